"""Slow and malformed clients on luna's own server (the one `serve` runs): bounded, answered
with problem+json, and never logged with what they sent."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson
import pytest
from conftest import free_port
from support import login

from luna.http.app import create_app
from luna.http.server import GuardedAppRunner, RequestLimits

LIMITS = {
    "luna_header_timeout_s": 1.0,
    "luna_body_timeout_s": 1.0,
    "luna_body_min_bytes_per_s": 4096,
}


@dataclass
class Running:
    port: int
    runner: GuardedAppRunner

    def open_connections(self) -> int:
        server = self.runner.server
        assert server is not None
        return len(server.connections)


@pytest.fixture
async def serve(db, make_settings, tmp_path) -> AsyncIterator[Callable[..., object]]:
    from aiohttp import web

    runners: list[GuardedAppRunner] = []

    async def start(**overrides: object) -> Running:
        port = free_port()
        settings = make_settings(
            luna_port=port, luna_public_url=f"http://127.0.0.1:{port}", **LIMITS, **overrides
        )
        runner = GuardedAppRunner(
            create_app(settings), limits=RequestLimits.from_settings(settings), access_log=None
        )
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return Running(port, runner)

    yield start
    for runner in runners:
        await runner.cleanup()


async def _until_no_connections(service: Running, *, timeout_s: float = 3) -> None:
    deadline = time.monotonic() + timeout_s
    while service.open_connections():
        assert time.monotonic() < deadline, f"{service.open_connections()} connections still open"
        await asyncio.sleep(0.05)


async def _read_all(reader: asyncio.StreamReader, *, timeout_s: float) -> bytes:
    """One whole answer (head and Content-Length body), then the connection's end: a close or
    a reset, both fine once the answer is in."""
    async with asyncio.timeout(timeout_s):
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = await reader.readexactly(length)
        try:
            assert await reader.read() == b"", "the connection stays open after the answer"
        except ConnectionResetError:
            pass
    return head + body


def _status_and_body(raw: bytes) -> tuple[int, str, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), orjson.loads(body)


async def test_slow_request_headers_are_cut_off_with_408(serve):
    service = await serve()
    connections = [await asyncio.open_connection("127.0.0.1", service.port) for _ in range(60)]
    started = time.monotonic()
    for _reader, writer in connections:
        writer.write(b"GET /liveness HTTP/1.1\r\nHost: luna\r\n")

    async def dribble(writer: asyncio.StreamWriter) -> None:
        for _ in range(20):
            await asyncio.sleep(0.25)
            if writer.is_closing():
                return
            try:
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
            except ConnectionError:
                return

    dribbling = [asyncio.ensure_future(dribble(writer)) for _, writer in connections]
    answers = [await _read_all(reader, timeout_s=10) for reader, _ in connections]
    # Cut off after the 1 s deadline, while they were still sending (5 s of headers).
    assert time.monotonic() - started < 5
    for raw in answers:
        status, content_type, body = _status_and_body(raw)
        assert status == 408 and content_type == "application/problem+json"
        assert "headers" in body["detail"]
    for task in dribbling:
        task.cancel()
    for _, writer in connections:
        writer.close()
    await _until_no_connections(service)


async def test_a_connection_that_never_sends_is_closed(serve):
    service = await serve()
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    raw = await _read_all(reader, timeout_s=4)
    assert _status_and_body(raw)[0] == 408
    writer.close()


async def test_kept_alive_connections_may_idle_between_requests(serve):
    import aiohttp

    service = await serve()
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(2):
            async with http.get(f"http://127.0.0.1:{service.port}/liveness") as response:
                assert response.status == 200
            await asyncio.sleep(1.5)  # longer than the header deadline


async def test_a_slow_body_is_answered_408_and_dropped(serve):
    service = await serve()
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    writer.write(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: luna\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    )
    started = time.monotonic()

    async def dribble() -> None:
        while not writer.is_closing():
            await asyncio.sleep(0.2)
            try:
                writer.write(b" ")
                await writer.drain()
            except ConnectionError:
                return

    task = asyncio.ensure_future(dribble())
    raw = await _read_all(reader, timeout_s=6)
    task.cancel()
    assert time.monotonic() - started < 5
    status, content_type, body = _status_and_body(raw)
    assert status == 408 and content_type == "application/problem+json"
    assert "too slowly" in body["detail"]
    writer.close()


async def test_a_slow_upload_to_the_embedded_store_is_dropped_without_a_temp_file(
    serve, add_account, tmp_path
):
    import aiohttp

    service = await serve(minio_endpoint=None, luna_data_dir=tmp_path)
    account = await add_account("olga", team="red")
    async with aiohttp.ClientSession(f"http://127.0.0.1:{service.port}") as http:
        async with http.post(
            "/api/v1/auth/login", json={"username": "olga", "password": account.password}
        ) as response:
            token = (await response.json())["access_token"]
        files = [{"filename": "a.png", "content_type": "image/png", "size_bytes": 1_000_000}]
        async with http.post(
            "/api/v1/upload/start",
            json={"dataset_name": "d", "files": files},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 200, await response.text()
            entry = (await response.json())["upload_urls"][0]
    target = entry["upload_url"].split(str(service.port), 1)[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    head = f"PUT {target} HTTP/1.1\r\nHost: luna\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in entry["headers"].items()
    )
    writer.write(head.encode() + b"\r\n" + b"\x89PNG")

    async def dribble() -> None:
        while not writer.is_closing():
            await asyncio.sleep(0.2)
            try:
                writer.write(b"\x00" * 10)
                await writer.drain()
            except ConnectionError:
                return

    task = asyncio.ensure_future(dribble())
    raw = await _read_all(reader, timeout_s=6)
    task.cancel()
    writer.close()
    assert _status_and_body(raw)[0] == 408
    await _until_no_connections(service)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".luna-partial")]


async def test_unparseable_requests_get_problems_and_stay_out_of_the_log(serve, caplog):
    service = await serve()
    secret = "Bearer-eyJSECRETSIGNATURE"
    cases = [
        b"GET /api/v1/datasets?token=" + secret.encode() + b"x" * 9000 + b" HTTP/1.1\r\n\r\n",
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: luna\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\nX-Token: " + secret.encode() + b"\r\n\r\n0\r\n\r\n",
        b"GET /liveness HTTP/1.1\r\nHost: luna\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n",
    ]
    with caplog.at_level(logging.DEBUG):
        for request in cases:
            reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
            writer.write(request)
            raw = await _read_all(reader, timeout_s=5)
            writer.close()
            status, content_type, body = _status_and_body(raw)
            assert status == 400, raw[:200]
            assert content_type == "application/problem+json"
            assert body["status"] == 400 and body["detail"]
    assert "SECRETSIGNATURE" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_normal_requests_pass_through_the_guarded_server(serve, add_account):
    import aiohttp

    service = await serve()
    account = await add_account("pia", team="red")

    class Client:
        def __init__(self, http: aiohttp.ClientSession) -> None:
            self.http = http

        def post(self, path: str, **kwargs: object):
            return self.http.post(path, **kwargs)

    async with aiohttp.ClientSession(f"http://127.0.0.1:{service.port}") as http:
        headers = await login(Client(http), account)  # type: ignore[arg-type]
        async with http.get("/api/v1/datasets", headers=headers) as response:
            assert response.status == 200

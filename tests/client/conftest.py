"""Fixtures for the team client: a running luna (the real app on PostgreSQL, RabbitMQ and
moto S3), an account, example datasets on disk, and a store front that fails on purpose."""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from support import Account

from luna.client import add_client_commands
from luna.client.commands import credentials_from, submit_options
from luna.client.submit import submit_directory
from luna.client.uploader import ChooseTransfer, single_put_for_all
from luna.examples import write_example_dataset

# Bounds a hang (a job that never finishes), not a speed: a small dataset takes seconds.
SUBMIT_LIMIT_S = 120


@dataclass
class Luna:
    client: TestClient
    account: Account

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    def env(self, **overrides: str) -> dict[str, str]:
        env = {"LUNA_USERNAME": self.account.username, "LUNA_PASSWORD": self.account.password}
        env.update(overrides)
        return env


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


class NotATerminal(io.StringIO):
    def isatty(self) -> bool:
        return False


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="luna")
    add_client_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.fixture
def submit() -> Callable[..., Any]:
    """Run `luna submit ARGV` in this event loop (the server shares it); returns the exit code
    and what was printed."""

    async def run(
        argv: list[str],
        *,
        env: dict[str, str],
        choose_transfer: ChooseTransfer = single_put_for_all,
    ) -> Outcome:
        args = parse(["submit", *argv])
        out, err = io.StringIO(), io.StringIO()
        try:
            async with asyncio.timeout(SUBMIT_LIMIT_S):
                code = await submit_directory(
                    submit_options(args, environ=env),
                    credentials=credentials_from(env, stdin=NotATerminal(), err=err),
                    out=out,
                    err=err,
                    choose_transfer=choose_transfer,
                )
        except TimeoutError:
            raise AssertionError(
                f"luna submit still running after {SUBMIT_LIMIT_S} s; it printed:\n"
                f"{err.getvalue()}\n{out.getvalue()}"
            ) from None
        return Outcome(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def start_luna(make_client, add_account) -> Callable[..., Any]:
    async def start(**overrides: object) -> Luna:
        account = await add_account("ada", team="red")
        overrides.setdefault("luna_validators", 2)
        return Luna(await make_client(**overrides), account)

    return start


@pytest.fixture
def example(tmp_path: Path) -> Callable[..., Path]:
    """Write an example dataset (4 images by default) under the test's temporary dir."""

    def write(name: str = "chest-small", *, images: int = 4, broken: bool = False) -> Path:
        directory = tmp_path / name
        write_example_dataset(directory, images=images, broken=broken)
        return directory

    return write


# ------------------------------------------------------------------ a store front that fails


@dataclass
class FlakyStore:
    """Forwards PUTs to the real S3 server, after failing some on purpose.

    `faults["a.png"] = ["503", "drop"]` fails the first two PUTs of any key ending in a.png
    (a 503, then a connection cut mid-body); later PUTs pass through.
    """

    upstream: str
    faults: dict[str, list[str]] = field(default_factory=dict)
    attempts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    session: aiohttp.ClientSession | None = None

    def _fault_for(self, key: str) -> str | None:
        for suffix, planned in self.faults.items():
            if key.endswith(suffix) and planned:
                return planned.pop(0)
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        self.attempts[key] += 1
        self.headers[key] = dict(request.headers)
        fault = self._fault_for(key)
        if fault == "503":
            await request.read()
            return web.Response(
                status=503,
                text="<Error><Code>SlowDown</Code><Message>Please reduce your request rate."
                "</Message></Error>",
            )
        if fault == "403":
            await request.read()
            return web.Response(
                status=403,
                text="<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
                "</Error>",
            )
        if fault == "drop":
            await request.content.readany()
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        body = await request.read()
        assert self.session is not None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("content-type", "content-length", "host")
        }
        async with self.session.put(
            f"{self.upstream}{request.path_qs}", data=body, headers=headers
        ) as upstream:
            return web.Response(status=upstream.status, body=await upstream.read())


@pytest.fixture
async def flaky_store(s3_endpoint: str):
    store = FlakyStore(upstream=s3_endpoint)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_put("/{key:.*}", store.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        store.session = session
        yield store, str(server.make_url("")).rstrip("/")
    await server.close()


# ------------------------------------------------------------------ an API front that breaks SSE


@dataclass
class ApiFront:
    """Forwards every request to luna, except the events stream: `events = "404"` answers
    404 as a server without the route would; `events = "cut"` passes the first event on,
    then cuts the connection."""

    upstream: str
    events: str = "404"
    event_requests: int = 0
    status_requests: int = 0
    session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("authorization", "content-type", "accept")
        }
        url = f"{self.upstream}{request.path_qs}"
        if request.path.endswith("/events"):
            self.event_requests += 1
            if self.events == "404":
                raise web.HTTPNotFound()
            return await self._cut_stream(request, url, headers)
        if request.path.endswith("/status"):
            self.status_requests += 1
        body = await request.read()
        async with self.session.request(
            request.method, url, data=body or None, headers=headers
        ) as upstream:
            return web.Response(
                status=upstream.status,
                body=await upstream.read(),
                headers={"Content-Type": upstream.headers.get("Content-Type", "text/plain")},
            )

    async def _cut_stream(
        self, request: web.Request, url: str, headers: dict[str, str]
    ) -> web.StreamResponse:
        assert self.session is not None
        async with self.session.get(url, headers=headers) as upstream:
            response = web.StreamResponse(
                status=upstream.status, headers={"Content-Type": upstream.content_type}
            )
            await response.prepare(request)
            first = await upstream.content.readuntil(b"\n\n")
            await response.write(first)
        assert request.transport is not None
        request.transport.abort()
        return response


@pytest.fixture
async def api_front():
    fronts: list[TestServer] = []

    async with aiohttp.ClientSession() as session:

        async def start(upstream: str, *, events: str) -> tuple[ApiFront, str]:
            front = ApiFront(upstream=upstream, events=events, session=session)
            app = web.Application()
            app.router.add_route("*", "/{path:.*}", front.handle)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            fronts.append(server)
            return front, str(server.make_url("")).rstrip("/")

        yield start
        for server in fronts:
            await server.close()


@pytest.fixture
def start_luna_with_local_store(db, make_settings, aiohttp_client, add_account, tmp_path):
    """luna with its embedded object store: upload URLs point at luna itself and are checked
    (signature, content type, length) on every PUT."""
    from luna.http.app import create_app

    async def start() -> Luna:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        settings = make_settings(
            minio_endpoint=None,
            luna_data_dir=tmp_path / "luna-data",
            luna_public_url=f"http://127.0.0.1:{port}",
            luna_validators=2,
        )
        client = await aiohttp_client(
            create_app(settings, mode="serve"), server_kwargs={"port": port}
        )
        return Luna(client, await add_account("ada", team="red"))

    return start

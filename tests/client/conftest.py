"""Fixtures for the team client: a running luna (the real app on PostgreSQL, RabbitMQ and
moto S3), an account, example datasets on disk (one with a file large enough to go in parts),
and a store front that fails, counts and holds PUTs on purpose."""

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
from luna.client.uploader import ChooseTransfer
from luna.examples import dicom_bytes, write_example_dataset

# Bounds a hang (a job that never finishes), not a speed: a small dataset takes seconds.
SUBMIT_LIMIT_S = 120


def _has_route(app: web.Application, path: str) -> bool:
    return any(resource.canonical == path for resource in app.router.resources())


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """The client's cache (where unfinished submissions are remembered) for this test: never
    the real user's."""
    return tmp_path / "luna-cache"


@dataclass
class Luna:
    client: TestClient
    account: Account
    cache_dir: Path

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "LUNA_USERNAME": self.account.username,
            "LUNA_PASSWORD": self.account.password,
            "LUNA_CACHE_DIR": str(self.cache_dir),
        }
        env.update(overrides)
        return env

    def saved_submissions(self) -> list[Path]:
        folder = self.cache_dir / "submissions"
        return sorted(folder.glob("*.json")) if folder.is_dir() else []


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
def submit(cache_dir: Path) -> Callable[..., Any]:
    """Run `luna submit ARGV` in this event loop (the server shares it); returns the exit code
    and what was printed. `choose_transfer=None` is the client's own choice (multipart for
    large files)."""

    async def run(
        argv: list[str],
        *,
        env: dict[str, str],
        choose_transfer: ChooseTransfer | None = None,
    ) -> Outcome:
        env = {"LUNA_CACHE_DIR": str(cache_dir), **env}
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
def start_luna(make_client, add_account, cache_dir: Path) -> Callable[..., Any]:
    async def start(**overrides: object) -> Luna:
        account = await add_account("ada", team="red")
        overrides.setdefault("luna_validators", 2)
        return Luna(await make_client(**overrides), account, cache_dir)

    return start


@pytest.fixture
def example(tmp_path: Path) -> Callable[..., Path]:
    """Write an example dataset (4 images by default) under the test's temporary dir."""

    def write(name: str = "chest-small", *, images: int = 4, broken: bool = False) -> Path:
        directory = tmp_path / name
        write_example_dataset(directory, images=images, broken=broken)
        return directory

    return write


# Large files go in parts above 6 MiB, in 5 MiB parts (S3's smallest): the large example's
# 3000 x 3000 DICOM (17.2 MiB) has 4 parts.
SMALL_PARTS = {
    "luna_multipart_threshold_bytes": 6 * 1024 * 1024,
    "luna_multipart_part_bytes": 5 * 1024 * 1024,
}
LARGE_SIDE_PX = 3000


@pytest.fixture
def small_parts() -> dict[str, int]:
    """Settings overrides for `start_luna`: files over 6 MiB in 5 MiB parts."""
    return dict(SMALL_PARTS)


@dataclass(frozen=True)
class LargeExample:
    directory: Path
    large: str  # the large file's name in the dataset
    files: tuple[str, ...]

    def change_large_file(self) -> None:
        """Flip one pixel byte: same size, still a valid picture, another SHA-256."""
        path = self.directory / self.large
        with path.open("r+b") as stream:
            stream.seek(-2, 2)
            last = stream.read(1)
            stream.seek(-2, 2)
            stream.write(bytes([last[0] ^ 0x01]))


@pytest.fixture
def large_example(tmp_path: Path) -> Callable[..., LargeExample]:
    """An example dataset whose DICOM is replaced by a 3000 x 3000 one (17.2 MiB of noise)."""
    import numpy as np

    def write(name: str = "chest-large") -> LargeExample:
        directory = tmp_path / name
        example = write_example_dataset(directory, images=4)
        row = next(r for r in example.rows if r.filename.endswith(".dcm"))
        density = np.random.default_rng(7).random((LARGE_SIDE_PX, LARGE_SIDE_PX))
        (directory / row.filename).write_bytes(
            dicom_bytes(density, patient_id=row.patient_id, view=row.view, seed=7)
        )
        return LargeExample(directory, row.filename, example.files)

    return write


# ------------------------------------------------------------------ a store front that fails


@dataclass
class FlakyStore:
    """Forwards PUTs to the real S3 server, after failing some on purpose.

    `faults["a.png"] = ["503", "drop"]` fails the first two PUTs of any key ending in a.png
    (a 503, then a connection cut mid-body); later PUTs pass through.

    Every PUT that reached the store is logged in `stored` as (key, part number or None).
    `hold_parts_after = n` lets n part PUTs through and holds every later one (never
    forwarded; answered 503 once `release()` is called): an upload stopped part-way, as by a
    network gone or a laptop closed.
    """

    upstream: str
    faults: dict[str, list[str]] = field(default_factory=dict)
    attempts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    session: aiohttp.ClientSession | None = None
    stored: list[tuple[str, int | None]] = field(default_factory=list)
    hold_parts_after: int | None = None
    part_puts_seen: int = 0
    held: int = 0
    in_flight: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.hold_parts_after = None
        self._release.set()

    def parts_stored(self, suffix: str) -> list[int]:
        return sorted(n for key, n in self.stored if key.endswith(suffix) and n is not None)

    def whole_puts(self) -> list[str]:
        return sorted(key.rsplit("/", 1)[-1] for key, n in self.stored if n is None)

    async def wait_until_idle(self) -> None:
        """Until no PUT is being handled: one whose client went away may still be forwarding,
        and only lands in `stored` when the upstream answers."""
        while self.in_flight:
            self._changed.clear()
            await self._changed.wait()

    async def wait_until_held(self, *, parts_stored: int) -> None:
        while self.held == 0 or sum(1 for _, n in self.stored if n is not None) < parts_stored:
            self._changed.clear()
            await self._changed.wait()

    def _fault_for(self, key: str) -> str | None:
        for suffix, planned in self.faults.items():
            if key.endswith(suffix) and planned:
                return planned.pop(0)
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        try:
            return await self._handle(request)
        finally:
            self.in_flight -= 1
            self._changed.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        self.attempts[key] += 1
        self.headers[key] = dict(request.headers)
        raw_part = request.query.get("partNumber")
        part_number = int(raw_part) if raw_part is not None else None
        if part_number is not None:
            self.part_puts_seen += 1
            if self.hold_parts_after is not None and self.part_puts_seen > self.hold_parts_after:
                self.held += 1
                self._changed.set()
                await self._release.wait()
                return web.Response(status=503, text="<Error><Code>SlowDown</Code></Error>")
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
            answer = await upstream.read()
            if upstream.status == 200:
                self.stored.append((key, part_number))
                self._changed.set()
            return web.Response(status=upstream.status, body=answer, headers=_etag(upstream))


def _etag(upstream: aiohttp.ClientResponse) -> dict[str, str]:
    etag = upstream.headers.get("ETag")
    return {"ETag": etag} if etag else {}


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
        store.release()
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

    async def start(**overrides: object) -> Luna:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        settings = make_settings(
            minio_endpoint=None,
            luna_data_dir=tmp_path / "luna-data",
            luna_public_url=f"http://127.0.0.1:{port}",
            **{"luna_validators": 2, **overrides},
        )
        client = await aiohttp_client(
            create_app(settings, mode="serve"), server_kwargs={"port": port}
        )
        return Luna(client, await add_account("ada", team="red"), tmp_path / "luna-cache")

    return start

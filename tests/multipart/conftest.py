"""Fixtures for multipart uploads: both object stores behind real HTTP, an app serving the part
routes, and the helpers a client needs (deterministic parts, PUTs that are counted)."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multipart.parts_support import Api, Backend, Sender
from pydantic import SecretStr
from storage.conftest import (  # noqa: F401  (LocalStack, which checks signatures)
    bucket_prefix,
    localstack_endpoint,
    localstack_settings,
)

from luna import constants
from luna.http.local_store import add_local_store_routes
from luna.settings import Settings
from luna.storage.local import LocalObjectStore
from luna.storage.s3 import s3_store

SECRET = b"multipart-test-secret"
PARTS_PATH = "/api/v1/upload/parts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# ---------------------------------------------------------------- the two stores


def _s3_settings(s3_endpoint: str, run_id: str) -> Settings:
    data = Settings.model_construct().model_dump()
    data.update(
        minio_endpoint=s3_endpoint,
        minio_access_key="test",
        minio_secret_key=SecretStr("test"),
        minio_bucket=f"luna-test-{run_id}-parts",
    )
    return Settings.model_construct(**data)


@pytest.fixture
async def s3_backend(
    s3_endpoint: str, run_id: str, http: aiohttp.ClientSession
) -> AsyncIterator[Backend]:
    async with s3_store(_s3_settings(s3_endpoint, run_id)) as store:
        await store.ensure_bucket()
        yield Backend("s3", store, Sender(http))


@pytest.fixture
async def embedded_backend(tmp_path: Path, http: aiohttp.ClientSession) -> AsyncIterator[Backend]:
    """The embedded store behind a real `PUT /store/{key}` server on a free port."""
    port = free_port()
    store = LocalObjectStore(
        tmp_path / "objects", public_base_url=f"http://127.0.0.1:{port}", secret=SECRET
    )
    await store.ensure_bucket()
    app = web.Application()
    add_local_store_routes(app, store)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield Backend("embedded", store, Sender(http))
    finally:
        await server.close()


@pytest.fixture(params=["s3", "embedded"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each test runs on both stores."""
    return request.getfixturevalue(f"{request.param}_backend")  # type: ignore[no-any-return]


@pytest.fixture
def unique_key() -> Callable[[str], str]:
    prefix = f"datasets/{secrets.token_hex(4)}"
    return lambda name: f"{prefix}/{name}"


# ---------------------------------------------------------------- the app, with parts wired in


def _has_route(app: web.Application, path: str) -> bool:
    return any(resource.canonical == path for resource in app.router.resources())


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Files over 6 MiB go in 5 MiB parts (S3's smallest), so a 3-part file is 12 MiB.
    Returned as settings overrides too, for when Settings names them."""
    threshold, part_size = 6 * constants.MiB, 5 * constants.MiB
    monkeypatch.setattr(constants, "MULTIPART_THRESHOLD_BYTES", threshold)
    monkeypatch.setattr(constants, "MULTIPART_PART_BYTES", part_size)
    return {"luna_multipart_threshold_bytes": threshold, "luna_multipart_part_bytes": part_size}


@pytest.fixture(params=["s3", "embedded"])
async def make_api(
    request: pytest.FixtureRequest,
    make_client: Callable[..., Any],
    http: aiohttp.ClientSession,
    tmp_path: Path,
    run_id: str,
) -> Callable[..., Any]:
    """Start luna on the session's S3 (moto) or on its embedded store; keyword overrides go to
    the settings."""

    async def start(**overrides: Any) -> Api:
        # The part plan follows the constants at call time (`small_parts` lowers them).
        overrides.setdefault("luna_multipart_threshold_bytes", constants.MULTIPART_THRESHOLD_BYTES)
        overrides.setdefault("luna_multipart_part_bytes", constants.MULTIPART_PART_BYTES)
        if request.param == "embedded":
            overrides.update(minio_endpoint=None, luna_data_dir=tmp_path / "luna")
            client = await make_client(**overrides)
            return Api(
                client, Sender(http, base_url=str(client.make_url("")).rstrip("/")), "embedded"
            )
        # Dataset ids restart with every test: a bucket of its own keeps keys from meeting.
        overrides.setdefault("minio_bucket", f"luna-test-{run_id}-{secrets.token_hex(3)}")
        client = await make_client(**overrides)
        return Api(client, Sender(http), "s3")

    return start

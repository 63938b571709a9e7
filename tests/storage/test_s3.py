"""The S3 store against the session's moto server (which does not check signatures: those are
pinned against LocalStack in test_s3_signatures.py)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from luna.errors import BackendUnavailable, NotFound
from luna.settings import Settings
from luna.storage.base import ObjectStore
from luna.storage.s3 import S3_MAX_POOL_CONNECTIONS, S3ObjectStore, s3_store

SettingsFactory = Callable[..., Settings]
KeyFactory = Callable[[str], str]


@pytest.fixture
async def store(s3_settings: SettingsFactory) -> AsyncIterator[S3ObjectStore]:
    async with s3_store(s3_settings()) as store:
        await store.ensure_bucket()
        yield store


async def upload(store: S3ObjectStore, key: str, body: bytes, content_type: str) -> int:
    """PUT `body` as a client would: to the presigned URL, with exactly the returned headers."""
    presigned = await store.presign_put(
        key, content_type=content_type, size_bytes=len(body), expires_in_s=600
    )
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            presigned.method, presigned.url, data=body, headers=presigned.headers
        ) as response,
    ):
        return response.status


def test_s3_store_satisfies_the_protocol(store: S3ObjectStore) -> None:
    checked: ObjectStore = store
    assert checked.kind == "s3"


async def test_ensure_bucket_twice_and_concurrently(s3_settings: SettingsFactory) -> None:
    settings = s3_settings(minio_bucket=f"luna-test-race-{secrets.token_hex(4)}")
    async with s3_store(settings) as first, s3_store(settings) as second:
        # Two replicas starting at once both see "absent" and both create.
        await asyncio.gather(first.ensure_bucket(), second.ensure_bucket())
        await first.ensure_bucket()
        await first.ping()
        await second.ping()


async def test_presigned_put_stores_the_object(
    store: S3ObjectStore, unique_key: KeyFactory
) -> None:
    key = unique_key("scans/a b.png")
    body = os.urandom(1000)
    assert await upload(store, key, body, "image/png") == 200
    info = await store.head(key)
    assert info is not None
    assert (info.key, info.size_bytes, info.content_type) == (key, 1000, "image/png")


async def test_presigned_headers_are_exactly_type_and_length(store: S3ObjectStore) -> None:
    presigned = await store.presign_put(
        "datasets/1/manifest.csv", content_type="text/csv", size_bytes=42, expires_in_s=600
    )
    assert presigned.method == "PUT"
    assert presigned.headers == {"Content-Type": "text/csv", "Content-Length": "42"}
    assert urlsplit(presigned.url).path == f"/{store.bucket}/datasets/1/manifest.csv"


async def test_empty_object_uploads(store: S3ObjectStore, unique_key: KeyFactory) -> None:
    key = unique_key("empty.csv")
    assert await upload(store, key, b"", "text/csv") == 200
    info = await store.head(key)
    assert info is not None and info.size_bytes == 0
    assert [chunk async for chunk in store.stream(key, chunk_bytes=1024)] == []


async def test_stream_returns_the_bytes_in_bounded_chunks(
    store: S3ObjectStore, unique_key: KeyFactory
) -> None:
    key = unique_key("big.dcm")
    body = os.urandom(3 * 1024 * 1024 + 12345)
    assert await upload(store, key, body, "application/dicom") == 200
    chunk_bytes = 256 * 1024
    chunks = [chunk async for chunk in store.stream(key, chunk_bytes=chunk_bytes)]
    assert b"".join(chunks) == body
    assert len(chunks) == 13
    assert all(len(chunk) == chunk_bytes for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= chunk_bytes


async def test_abandoned_stream_frees_its_connection(
    s3_settings: SettingsFactory, unique_key: KeyFactory
) -> None:
    key = unique_key("abandoned.png")
    async with s3_store(s3_settings()) as store:
        assert await upload(store, key, os.urandom(512 * 1024), "image/png") == 200
        # More abandoned reads than the pool has connections: a leak would block the next
        # read forever (the timeout only turns that hang into a failure).
        async with asyncio.timeout(30):
            for _ in range(S3_MAX_POOL_CONNECTIONS + 8):
                chunks = store.stream(key, chunk_bytes=1024)
                async for _chunk in chunks:
                    break
                await chunks.aclose()  # type: ignore[attr-defined]
        assert (await store.head(key)) is not None


async def test_missing_object(store: S3ObjectStore, unique_key: KeyFactory) -> None:
    key = unique_key("absent.png")
    assert await store.head(key) is None
    with pytest.raises(NotFound):
        async for _chunk in store.stream(key, chunk_bytes=1024):
            pass
    await store.delete(key)


async def test_delete_removes_the_object(store: S3ObjectStore, unique_key: KeyFactory) -> None:
    key = unique_key("gone.png")
    assert await upload(store, key, b"png", "image/png") == 200
    await store.delete(key)
    assert await store.head(key) is None


async def test_ping_fails_for_a_missing_bucket(s3_settings: SettingsFactory) -> None:
    settings = s3_settings(minio_bucket=f"luna-test-absent-{secrets.token_hex(4)}")
    async with s3_store(settings) as store:
        with pytest.raises(BackendUnavailable) as caught:
            await store.ping()
        assert caught.value.backend == "s3"


async def test_unreachable_store_is_backend_unavailable(
    s3_settings: SettingsFactory, unreachable_endpoint: str
) -> None:
    settings = s3_settings(minio_endpoint=unreachable_endpoint)
    async with s3_store(settings, max_attempts=2) as store:
        for attempt in (
            store.ping(),
            store.ensure_bucket(),
            store.head("datasets/1/a.png"),
            store.delete("datasets/1/a.png"),
        ):
            with pytest.raises(BackendUnavailable) as caught:
                await attempt
            assert caught.value.backend == "s3"
        with pytest.raises(BackendUnavailable):
            async for _chunk in store.stream("datasets/1/a.png", chunk_bytes=1024):
                pass
        # Presigning is offline: it works while the store is down.
        presigned = await store.presign_put(
            "datasets/1/a.png", content_type="image/png", size_bytes=1, expires_in_s=60
        )
        assert presigned.url.startswith("http://127.0.0.1:")


async def test_server_errors_are_retried_then_backend_unavailable(
    s3_settings: SettingsFactory,
) -> None:
    requests: list[str] = []

    async def failing(request: web.Request) -> web.Response:
        requests.append(request.method)
        return web.Response(status=503, text="<Error><Code>SlowDown</Code></Error>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", failing)
    async with TestServer(app, host="127.0.0.1") as server:
        settings = s3_settings(minio_endpoint=f"127.0.0.1:{server.port}")
        async with s3_store(settings, max_attempts=2) as store:
            with pytest.raises(BackendUnavailable, match="503"):
                await store.head("datasets/1/a.png")
    assert requests == ["HEAD", "HEAD"]


async def test_a_store_that_never_answers_times_out(s3_settings: SettingsFactory) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = s3_settings(minio_endpoint=f"127.0.0.1:{port}")
        async with s3_store(settings, read_timeout_s=0.2, max_attempts=1) as store:
            with pytest.raises(BackendUnavailable) as caught:
                await store.ping()
            assert "timeout" in caught.value.detail.lower()
    finally:
        server.close()
        await server.wait_closed()


async def test_public_endpoint_names_the_upload_urls(
    s3_settings: SettingsFactory, s3_endpoint: str
) -> None:
    settings = s3_settings(minio_public_endpoint="uploads.luna.test:9443", minio_secure=True)
    async with s3_store(settings) as store:
        presigned = await store.presign_put(
            "datasets/3/a.png", content_type="image/png", size_bytes=5, expires_in_s=60
        )
    assert presigned.url.startswith(f"https://uploads.luna.test:9443/{settings.minio_bucket}/")
    # luna itself still talks to the internal endpoint.
    assert settings.s3_url(settings.minio_endpoint or "") == s3_endpoint


async def test_uploads_through_the_public_name_reach_the_store(
    s3_settings: SettingsFactory, s3_endpoint: str, unique_key: KeyFactory
) -> None:
    port = urlsplit(s3_endpoint).port
    settings = s3_settings(minio_public_endpoint=f"localhost:{port}")
    key = unique_key("public.png")
    async with s3_store(settings) as store:
        await store.ensure_bucket()
        presigned = await store.presign_put(
            key, content_type="image/png", size_bytes=3, expires_in_s=60
        )
        assert urlsplit(presigned.url).hostname == "localhost"
        assert await upload(store, key, b"abc", "image/png") == 200
        assert (await store.head(key)) is not None


async def test_a_bucket_luna_creates_lets_browsers_put_to_its_urls(
    s3_settings: SettingsFactory,
) -> None:
    # moto answers any preflight, so the rule itself is what is checked here; the web console
    # test (tests/browser) makes the cross-origin PUTs.
    settings = s3_settings(
        minio_bucket=f"luna-test-cors-{secrets.token_hex(4)}",
        cors_origins=["https://luna.example.org"],
    )
    async with s3_store(settings) as store:
        await store.ensure_bucket()
        rules = (await store._client.get_bucket_cors(Bucket=store.bucket))["CORSRules"]
    (rule,) = rules
    assert rule["AllowedOrigins"] == ["https://luna.example.org"]
    assert rule["AllowedMethods"] == ["PUT"]
    assert rule["AllowedHeaders"] == ["*"] and rule["ExposeHeaders"] == ["ETag"]


async def test_a_busy_connection_pool_fails_fast_instead_of_hanging(
    s3_settings: SettingsFactory, unique_key: KeyFactory
) -> None:
    key = unique_key("held.png")
    settings = s3_settings(luna_s3_pool_size=1, luna_pool_wait_s=0.3)
    async with s3_store(settings, connect_timeout_s=0.5, max_attempts=1) as store:
        await store.ensure_bucket()
        # Larger than any socket buffer: a stream in progress holds the only connection.
        assert await upload(store, key, os.urandom(16 * 1024 * 1024), "image/png") == 200
        chunks = store.stream(key, chunk_bytes=1024)
        async for _chunk in chunks:
            break
        try:
            # The wait is bounded by the pool wait plus the connect timeout (0.8 s here).
            async with asyncio.timeout(5):
                with pytest.raises(BackendUnavailable):
                    await store.head(key)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        assert (await store.head(key)) is not None

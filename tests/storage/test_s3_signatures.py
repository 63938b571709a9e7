"""What the store refuses: presigned PUTs against LocalStack's S3, which checks signatures,
expiry and signed headers (moto checks none of them)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest

from luna.settings import Settings
from luna.storage.base import PresignedUpload
from luna.storage.s3 import S3ObjectStore, s3_store
from luna.storage.signing import PresignedPutSigner

KeyFactory = Callable[[str], str]
BODY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
async def store(localstack_settings: Callable[..., Settings]) -> AsyncIterator[S3ObjectStore]:
    async with s3_store(localstack_settings()) as store:
        await store.ensure_bucket()
        yield store


async def put(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.put(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def presign(store: S3ObjectStore, key: str) -> PresignedUpload:
    return await store.presign_put(
        key, content_type="image/png", size_bytes=len(BODY), expires_in_s=600
    )


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_the_returned_headers_are_accepted(
    store: S3ObjectStore, unique_key: KeyFactory
) -> None:
    key = unique_key("a.png")
    upload = await presign(store, key)
    # aiohttp adds User-Agent, Accept and Accept-Encoding of its own: unsigned extras are fine.
    status, text = await put(upload.url, BODY, {**upload.headers, "X-Trace": "1"})
    assert status == 200, text
    info = await store.head(key)
    assert info is not None
    assert (info.size_bytes, info.content_type) == (len(BODY), "image/png")
    streamed = b"".join([chunk async for chunk in store.stream(key, chunk_bytes=100)])
    assert streamed == BODY


async def test_a_different_content_type_is_refused(
    store: S3ObjectStore, unique_key: KeyFactory
) -> None:
    key = unique_key("a.png")
    upload = await presign(store, key)
    status, _ = await put(upload.url, BODY, {**upload.headers, "Content-Type": "image/jpeg"})
    assert status == 403
    assert await store.head(key) is None


async def test_aiohttps_default_content_type_is_refused(
    store: S3ObjectStore, unique_key: KeyFactory
) -> None:
    key = unique_key("a.png")
    upload = await presign(store, key)
    status, _ = await put(upload.url, BODY)  # application/octet-stream, added by aiohttp
    assert status == 403
    assert await store.head(key) is None


async def test_a_different_length_is_refused(store: S3ObjectStore, unique_key: KeyFactory) -> None:
    key = unique_key("a.png")
    upload = await presign(store, key)
    status, _ = await put(upload.url, BODY + b"x", {"Content-Type": "image/png"})
    assert status == 403
    assert await store.head(key) is None


async def test_a_tampered_signature_is_refused(
    store: S3ObjectStore, unique_key: KeyFactory
) -> None:
    key = unique_key("a.png")
    upload = await presign(store, key)
    signature = parse_qs(urlsplit(upload.url).query)["X-Amz-Signature"][0]
    forged = ("0" if signature[0] != "0" else "1") + signature[1:]
    status, _ = await put(
        with_query(upload.url, **{"X-Amz-Signature": forged}), BODY, upload.headers
    )
    assert status == 403
    assert await store.head(key) is None


async def test_a_tampered_key_is_refused(store: S3ObjectStore, unique_key: KeyFactory) -> None:
    key, other = unique_key("a.png"), unique_key("b.png")
    upload = await presign(store, key)
    parts = urlsplit(upload.url)
    moved = urlunsplit(parts._replace(path=parts.path.replace("/a.png", "/b.png")))
    status, _ = await put(moved, BODY, upload.headers)
    assert status == 403
    assert await store.head(other) is None


async def test_a_url_signed_with_the_wrong_secret_is_refused(
    store: S3ObjectStore, localstack_endpoint: str, unique_key: KeyFactory
) -> None:
    key = unique_key("a.png")
    signer = PresignedPutSigner(
        localstack_endpoint, access_key="luna", secret_key="not-test", region="us-east-1"
    )
    url = signer.presign_put(
        store.bucket, key, content_type="image/png", size_bytes=len(BODY), expires_in_s=600
    )
    status, _ = await put(url, BODY, {"Content-Type": "image/png"})
    assert status == 403


async def test_an_expired_url_is_refused(
    store: S3ObjectStore, localstack_endpoint: str, unique_key: KeyFactory
) -> None:
    key = unique_key("a.png")
    signer = PresignedPutSigner(
        localstack_endpoint, access_key="luna", secret_key="test", region="us-east-1"
    )
    signed_at = datetime.now(UTC) - timedelta(minutes=20)
    url = signer.presign_put(
        store.bucket,
        key,
        content_type="image/png",
        size_bytes=len(BODY),
        expires_in_s=600,
        now=signed_at,
    )
    status, _ = await put(url, BODY, {"Content-Type": "image/png"})
    assert status == 403
    assert await store.head(key) is None


async def test_the_public_endpoint_is_signed_for_the_host_clients_use(
    localstack_settings: Callable[..., Settings],
    localstack_endpoint: str,
    unique_key: KeyFactory,
) -> None:
    port = urlsplit(localstack_endpoint).port
    settings = localstack_settings(minio_public_endpoint=f"localhost:{port}")
    key = unique_key(f"public-{secrets.token_hex(2)}.png")
    async with s3_store(settings) as store:
        await store.ensure_bucket()
        upload = await presign(store, key)
        assert urlsplit(upload.url).hostname == "localhost"
        # The same URL sent to the internal name fails: the signature binds the Host header.
        internal = urlunsplit(urlsplit(upload.url)._replace(netloc=f"127.0.0.1:{port}"))
        status, _ = await put(internal, BODY, upload.headers)
        assert status == 403
        status, text = await put(upload.url, BODY, upload.headers)
        assert status == 200, text
        assert await store.head(key) is not None

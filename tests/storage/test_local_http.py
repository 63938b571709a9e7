"""`PUT /store/{key}` on a real aiohttp server: what a client uploading to luna itself sees."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from luna.http.local_store import add_local_store_routes
from luna.storage.base import ObjectInfo, PresignedUpload
from luna.storage.local import TEMP_SUFFIX, LocalObjectStore

SECRET = b"embedded-store-http-secret"
# Long enough that the store has written to its temp file before the body is complete.
BIG_BYTES = 3 * 1024 * 1024


class ObservedStore(LocalObjectStore):
    """The real store, telling the test when a write has finished, however it ended."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, public_base_url="http://unused", secret=SECRET)
        self.writes_done: asyncio.Queue[BaseException | None] = asyncio.Queue()
        self.receiving = asyncio.Event()

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, size_bytes: int) -> ObjectInfo:
        async def observed() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                # The store opens its temp file before it asks for the first chunk.
                self.receiving.set()
                yield chunk

        try:
            info = await super().write(key, observed(), size_bytes=size_bytes)
        except BaseException as exc:
            self.writes_done.put_nowait(exc)
            raise
        self.writes_done.put_nowait(None)
        return info


@pytest.fixture
async def store(tmp_path: Path) -> ObservedStore:
    store = ObservedStore(tmp_path / "objects")
    await store.ensure_bucket()
    return store


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], store: ObservedStore) -> TestClient:
    app = web.Application()
    add_local_store_routes(app, store)
    return await aiohttp_client(app)


async def presign(store: LocalObjectStore, key: str, body: bytes, content_type: str) -> str:
    upload: PresignedUpload = await store.presign_put(
        key, content_type=content_type, size_bytes=len(body), expires_in_s=600
    )
    parts = urlsplit(upload.url)
    assert upload.headers == {"Content-Type": content_type, "Content-Length": str(len(body))}
    return f"{parts.path}?{parts.query}"


def stored(store: LocalObjectStore, key: str) -> bytes | None:
    path = store.root / key
    return path.read_bytes() if path.exists() else None


def leftovers(store: LocalObjectStore) -> list[Path]:
    return [path for path in store.root.rglob("*") if path.name.endswith(TEMP_SUFFIX)]


async def test_a_right_upload_is_stored(client: TestClient, store: ObservedStore) -> None:
    key = "datasets/1/scans/chest é 1.png"
    body = os.urandom(BIG_BYTES + 5)
    url = await presign(store, key, body, "image/png")
    response = await client.put(url, data=body, headers={"Content-Type": "image/png"})
    assert response.status == 200, await response.text()
    assert stored(store, key) == body
    info = await store.head(key)
    assert info is not None and info.size_bytes == len(body)
    assert leftovers(store) == []


async def test_an_empty_file_uploads(client: TestClient, store: ObservedStore) -> None:
    url = await presign(store, "datasets/1/empty.csv", b"", "text/csv")
    response = await client.put(url, data=b"", headers={"Content-Type": "text/csv"})
    assert response.status == 200
    assert stored(store, "datasets/1/empty.csv") == b""


async def assert_refused(response: Any) -> None:
    assert response.status == 403
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = await response.json(content_type=None)
    assert problem["status"] == 403 and problem["title"] == "Forbidden"


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


async def test_a_tampered_signature_is_refused(client: TestClient, store: ObservedStore) -> None:
    url = await presign(store, "datasets/1/a.png", b"png", "image/png")
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    forged = with_query(url, sig=("0" if sig[0] != "0" else "1") + sig[1:])
    await assert_refused(
        await client.put(forged, data=b"png", headers={"Content-Type": "image/png"})
    )
    assert stored(store, "datasets/1/a.png") is None


async def test_a_tampered_key_is_refused(client: TestClient, store: ObservedStore) -> None:
    url = await presign(store, "datasets/1/a.png", b"png", "image/png")
    moved = url.replace("/a.png", "/b.png")
    await assert_refused(
        await client.put(moved, data=b"png", headers={"Content-Type": "image/png"})
    )
    assert stored(store, "datasets/1/b.png") is None and stored(store, "datasets/1/a.png") is None


async def test_an_escaping_key_is_refused(client: TestClient, store: ObservedStore) -> None:
    url = await presign(store, "datasets/1/a.png", b"png", "image/png")
    query = urlsplit(url).query
    escaping = f"/store/datasets/1/%2E%2E/%2E%2E/%2E%2E/escape.png?{query}"
    response = await client.put(escaping, data=b"png", headers={"Content-Type": "image/png"})
    assert response.status in (403, 404)
    assert not (store.root.parent / "escape.png").exists()


async def test_an_expired_url_is_refused(
    client: TestClient, store: ObservedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await presign(store, "datasets/1/a.png", b"png", "image/png")
    expires_at = int(parse_qs(urlsplit(url).query)["expires"][0])
    monkeypatch.setattr("luna.storage.local.time.time", lambda: expires_at + 1.0)
    await assert_refused(await client.put(url, data=b"png", headers={"Content-Type": "image/png"}))
    assert stored(store, "datasets/1/a.png") is None


async def test_a_wrong_content_type_is_refused(client: TestClient, store: ObservedStore) -> None:
    url = await presign(store, "datasets/1/a.png", b"png", "image/png")
    await assert_refused(await client.put(url, data=b"png", headers={"Content-Type": "image/jpeg"}))
    # No header at all: aiohttp sends application/octet-stream for bytes.
    await assert_refused(await client.put(url, data=b"png"))
    assert stored(store, "datasets/1/a.png") is None


async def test_a_wrong_content_length_is_refused(client: TestClient, store: ObservedStore) -> None:
    url = await presign(store, "datasets/1/a.png", b"png", "image/png")
    await assert_refused(await client.put(url, data=b"pngx", headers={"Content-Type": "image/png"}))

    async def chunked() -> AsyncIterable[bytes]:
        yield b"png"

    # Chunked transfer encoding has no Content-Length to check against the signature.
    await assert_refused(
        await client.put(url, data=chunked(), headers={"Content-Type": "image/png"})
    )
    assert stored(store, "datasets/1/a.png") is None


async def test_a_rejected_put_leaves_the_existing_object_intact(
    client: TestClient, store: ObservedStore
) -> None:
    key = "datasets/1/a.png"
    url = await presign(store, key, b"first", "image/png")
    assert (
        await client.put(url, data=b"first", headers={"Content-Type": "image/png"})
    ).status == 200
    await assert_refused(
        await client.put(url, data=b"second", headers={"Content-Type": "image/png"})
    )
    await assert_refused(await client.put(url, data=b"secnd", headers={"Content-Type": "text/csv"}))
    assert stored(store, key) == b"first"


async def test_expect_continue_is_refused_before_the_body(
    client: TestClient, store: ObservedStore
) -> None:
    url = await presign(store, "datasets/1/a.png", b"png", "image/png")
    headers = {"Content-Type": "image/jpeg", "Expect": "100-continue"}
    await assert_refused(await client.put(url, data=b"png", headers=headers))
    assert store.writes_done.empty()
    headers["Content-Type"] = "image/png"
    response = await client.put(url, data=b"png", headers=headers)
    assert response.status == 200
    assert stored(store, "datasets/1/a.png") == b"png"


async def put_then_disconnect(
    client: TestClient, path: str, *, declared: int, sent: bytes, store: ObservedStore
) -> None:
    """Send the head and part of the body by hand, wait until the store is writing, hang up."""
    store.receiving.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{client.port}\r\n"
        f"Content-Type: image/png\r\nContent-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode() + sent)
    await writer.drain()
    async with asyncio.timeout(30):  # only turns a hang into a failure
        await store.receiving.wait()
    assert leftovers(store), "the store should be writing a temp file by now"
    writer.close()
    await writer.wait_closed()
    del reader


async def test_a_client_that_disconnects_mid_body_leaves_nothing(
    client: TestClient, store: ObservedStore
) -> None:
    key = "datasets/1/big.dcm"
    body = os.urandom(BIG_BYTES)
    url = await presign(store, key, body, "image/png")
    await put_then_disconnect(
        client, url, declared=len(body), sent=body[: BIG_BYTES // 2], store=store
    )
    async with asyncio.timeout(30):
        outcome = await store.writes_done.get()
    assert outcome is not None  # the write failed rather than storing half a file
    assert stored(store, key) is None
    assert leftovers(store) == []


async def test_a_broken_upload_leaves_the_existing_object_intact(
    client: TestClient, store: ObservedStore
) -> None:
    key = "datasets/1/big.dcm"
    old = b"the previous upload"
    url = await presign(store, key, old, "image/png")
    assert (await client.put(url, data=old, headers={"Content-Type": "image/png"})).status == 200
    assert await store.writes_done.get() is None
    body = os.urandom(BIG_BYTES)
    url = await presign(store, key, body, "image/png")
    await put_then_disconnect(
        client, url, declared=len(body), sent=body[: BIG_BYTES // 2], store=store
    )
    async with asyncio.timeout(30):
        assert await store.writes_done.get() is not None
    assert stored(store, key) == old
    assert leftovers(store) == []

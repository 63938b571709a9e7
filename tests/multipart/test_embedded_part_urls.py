"""What the embedded store refuses on `PUT /store/{key}?upload_id=..&part=N`: every change to a
signed part URL, the wrong length, an expired URL; and a broken part never counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest
from multipart.parts_support import Backend

from luna.storage.local import TEMP_SUFFIX, LocalObjectStore

KeyFactory = Callable[[str], str]
BODY = bytes(range(256)) * 40


@pytest.fixture
def store(embedded_backend: Backend) -> LocalObjectStore:
    assert isinstance(embedded_backend.store, LocalObjectStore)
    return embedded_backend.store


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def part_url(
    store: LocalObjectStore, key: str, upload_id: str, *, number: int = 1, expires_in_s: int = 600
) -> str:
    presigned = await store.presign_part(
        key,
        upload_id=upload_id,
        part_number=number,
        size_bytes=len(BODY),
        expires_in_s=expires_in_s,
    )
    return presigned.url


async def put(http: aiohttp.ClientSession, url: str, body: bytes = BODY) -> int:
    async with http.put(url, data=body) as response:
        return response.status


def leftovers(store: LocalObjectStore) -> list[str]:
    return [p.name for p in store.root.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


async def test_a_part_url_accepts_any_content_type(
    store: LocalObjectStore, http: aiohttp.ClientSession, unique_key: KeyFactory
) -> None:
    key = unique_key("big.bin")
    upload_id = await store.create_multipart(key, content_type="application/dicom")
    url = await part_url(store, key, upload_id)
    async with http.put(url, data=BODY, headers={"Content-Type": "text/plain"}) as response:
        assert response.status == 200
    assert [p.part_number for p in await store.list_parts(key, upload_id=upload_id)] == [1]


@pytest.mark.parametrize(
    "change",
    [
        {"part": "2"},
        {"sig": "0" * 64},
        {"upload_id": "f" * 32},
        {"expires": "99999999999"},
    ],
)
async def test_a_changed_part_url_is_refused(
    store: LocalObjectStore,
    http: aiohttp.ClientSession,
    unique_key: KeyFactory,
    change: dict[str, str],
) -> None:
    key = unique_key("big.bin")
    upload_id = await store.create_multipart(key, content_type="application/octet-stream")
    url = await part_url(store, key, upload_id)
    assert await put(http, with_query(url, **change)) == 403
    assert await store.list_parts(key, upload_id=upload_id) == []


async def test_a_part_url_is_not_an_object_url_nor_another_keys(
    store: LocalObjectStore, http: aiohttp.ClientSession, unique_key: KeyFactory
) -> None:
    key = unique_key("big.bin")
    upload_id = await store.create_multipart(key, content_type="application/octet-stream")
    url = await part_url(store, key, upload_id)
    query = parse_qs(urlsplit(url).query)
    as_object = with_query(url.split("?")[0], expires=query["expires"][0], sig=query["sig"][0])
    assert await put(http, as_object) == 403
    assert await put(http, url.replace("big.bin", "other.bin")) == 403
    assert await store.head(key) is None


async def test_a_part_of_the_wrong_length_is_refused(
    store: LocalObjectStore, http: aiohttp.ClientSession, unique_key: KeyFactory
) -> None:
    key = unique_key("big.bin")
    upload_id = await store.create_multipart(key, content_type="application/octet-stream")
    url = await part_url(store, key, upload_id)
    assert await put(http, url, BODY[:-1]) == 403
    assert await put(http, url, BODY + b"!") == 403
    assert await store.list_parts(key, upload_id=upload_id) == []
    assert leftovers(store) == []


async def test_an_expired_part_url_is_refused(
    store: LocalObjectStore,
    http: aiohttp.ClientSession,
    unique_key: KeyFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    key = unique_key("big.bin")
    upload_id = await store.create_multipart(key, content_type="application/octet-stream")
    url = await part_url(store, key, upload_id, expires_in_s=1)
    later = time.time() + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert await put(http, url) == 403
    assert await store.list_parts(key, upload_id=upload_id) == []


async def test_a_broken_part_keeps_the_earlier_copy_and_leaves_nothing(
    store: LocalObjectStore, http: aiohttp.ClientSession, unique_key: KeyFactory
) -> None:
    key = unique_key("big.bin")
    upload_id = await store.create_multipart(key, content_type="application/octet-stream")
    url = await part_url(store, key, upload_id)
    assert await put(http, url) == 200
    first = await store.list_parts(key, upload_id=upload_id)

    async def half_then_stop() -> AsyncIterator[bytes]:
        yield BODY[: len(BODY) // 2]
        await asyncio.sleep(0.2)
        raise ConnectionResetError("the client went away")

    with pytest.raises((aiohttp.ClientError, ConnectionResetError)):
        await put_streaming(http, url, half_then_stop())
    for _ in range(50):  # the server notices the broken body a moment later
        if not leftovers(store):
            break
        await asyncio.sleep(0.05)
    assert leftovers(store) == []
    assert await store.list_parts(key, upload_id=upload_id) == first


async def put_streaming(http: aiohttp.ClientSession, url: str, body: AsyncIterator[bytes]) -> None:
    headers = {"Content-Length": str(len(BODY))}
    async with http.put(url, data=body, headers=headers) as response:
        await response.read()


async def test_no_object_key_reaches_into_the_parts_folder(store: LocalObjectStore) -> None:
    for key in (".luna-multipart/x", ".luna-multipart/0123/upload.json"):
        with pytest.raises(ValueError):
            store.path_of(key)

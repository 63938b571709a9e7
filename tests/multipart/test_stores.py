"""Multipart uploads on both object stores, through the URLs they presign: parts sent over real
HTTP, listed, replaced, joined into the object, or dropped."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from multidict import CIMultiDict
from multipart.parts_support import Backend

from luna.errors import Conflict, NotFound
from luna.storage.base import StoredPart

MiB = 1024 * 1024
# Parts but the last must be at least 5 MiB on S3.
PART = 5 * MiB


def body(number: int, size_bytes: int = PART) -> bytes:
    return bytes([number]) * size_bytes


async def send_part(
    backend: Backend, key: str, upload_id: str, number: int, data: bytes
) -> tuple[int, CIMultiDict[str]]:
    presigned = await backend.store.presign_part(
        key, upload_id=upload_id, part_number=number, size_bytes=len(data), expires_in_s=600
    )
    assert presigned.method == "PUT"
    assert presigned.headers == {"Content-Length": str(len(data))}
    return await backend.sender.send(presigned, data)


async def read_all(backend: Backend, key: str) -> bytes:
    return b"".join([c async for c in backend.store.stream(key, chunk_bytes=MiB)])


async def test_parts_are_listed_joined_and_gone(
    backend: Backend, unique_key: Callable[[str], str]
) -> None:
    key = unique_key("big.bin")
    upload_id = await backend.store.create_multipart(key, content_type="application/octet-stream")
    assert await backend.store.list_parts(key, upload_id=upload_id) == []
    datas = {1: body(1), 2: body(2), 3: body(3, 1234)}
    for number in (3, 1):  # any order
        status, headers = await send_part(backend, key, upload_id, number, datas[number])
        assert status == 200
        assert headers["ETag"].strip('"') == hashlib.md5(datas[number]).hexdigest()
    listed = await backend.store.list_parts(key, upload_id=upload_id)
    assert [(p.part_number, p.size_bytes) for p in listed] == [(1, PART), (3, 1234)]
    assert await backend.store.head(key) is None  # nothing appears before completion

    await send_part(backend, key, upload_id, 2, datas[2])
    parts = await backend.store.list_parts(key, upload_id=upload_id)
    assert [p.etag for p in parts] == [hashlib.md5(datas[n]).hexdigest() for n in (1, 2, 3)]
    await backend.store.complete_multipart(key, upload_id=upload_id, parts=parts)

    info = await backend.store.head(key)
    assert info is not None and info.size_bytes == 2 * PART + 1234
    assert await read_all(backend, key) == datas[1] + datas[2] + datas[3]
    with pytest.raises(NotFound):
        await backend.store.list_parts(key, upload_id=upload_id)


async def test_a_part_sent_again_replaces_the_first(
    backend: Backend, unique_key: Callable[[str], str]
) -> None:
    key = unique_key("big.bin")
    upload_id = await backend.store.create_multipart(key, content_type="application/octet-stream")
    await send_part(backend, key, upload_id, 1, body(1, 100))
    await send_part(backend, key, upload_id, 1, body(9, 100))
    parts = await backend.store.list_parts(key, upload_id=upload_id)
    assert parts == [StoredPart(1, 100, hashlib.md5(body(9, 100)).hexdigest())]
    await backend.store.complete_multipart(key, upload_id=upload_id, parts=parts)
    assert await read_all(backend, key) == body(9, 100)


async def test_completing_with_a_part_the_store_lacks_is_a_conflict(
    backend: Backend, unique_key: Callable[[str], str]
) -> None:
    key = unique_key("big.bin")
    upload_id = await backend.store.create_multipart(key, content_type="application/octet-stream")
    await send_part(backend, key, upload_id, 1, body(1))
    stored = await backend.store.list_parts(key, upload_id=upload_id)
    wrong_etag = StoredPart(1, PART, "0" * 32)
    for parts in ([*stored, StoredPart(2, 10, "f" * 32)], [wrong_etag]):
        with pytest.raises(Conflict):
            await backend.store.complete_multipart(key, upload_id=upload_id, parts=parts)
    assert await backend.store.head(key) is None
    # The upload is still open: the right list completes it.
    await backend.store.complete_multipart(key, upload_id=upload_id, parts=stored)
    assert await read_all(backend, key) == body(1)


async def test_abort_drops_every_part_and_repeats_quietly(
    backend: Backend, unique_key: Callable[[str], str]
) -> None:
    key = unique_key("big.bin")
    upload_id = await backend.store.create_multipart(key, content_type="application/octet-stream")
    await send_part(backend, key, upload_id, 1, body(1, 10))
    await backend.store.abort_multipart(key, upload_id=upload_id)
    await backend.store.abort_multipart(key, upload_id=upload_id)
    with pytest.raises(NotFound):
        await backend.store.list_parts(key, upload_id=upload_id)
    if backend.name == "embedded":  # moto answers these with a 500, where S3 says NoSuchUpload
        with pytest.raises(NotFound):
            await backend.store.complete_multipart(
                key, upload_id=upload_id, parts=[StoredPart(1, 10, "0" * 32)]
            )
        status, _ = await send_part(backend, key, upload_id, 2, body(2, 10))
        assert status == 404
        assert not (backend.store.root / ".luna-multipart" / upload_id).exists()  # type: ignore[attr-defined]
    assert await backend.store.head(key) is None


async def test_an_upload_belongs_to_its_key(
    backend: Backend, unique_key: Callable[[str], str]
) -> None:
    key, other = unique_key("big.bin"), unique_key("other.bin")
    upload_id = await backend.store.create_multipart(key, content_type="application/octet-stream")
    if backend.name == "embedded":  # moto does not check the key, S3 does
        with pytest.raises(NotFound):
            await backend.store.list_parts(other, upload_id=upload_id)
    with pytest.raises(NotFound):
        await backend.store.list_parts(key, upload_id="no-such-upload")
    await backend.store.abort_multipart(key, upload_id=upload_id)

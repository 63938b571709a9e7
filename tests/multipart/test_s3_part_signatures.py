"""Part URLs against LocalStack's S3, which checks signatures (moto checks none): the returned
headers are accepted whatever Content-Type a client adds; another length, part or upload is not.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest

from luna.settings import Settings
from luna.storage.s3 import S3ObjectStore, s3_store

MiB = 1024 * 1024
BODY = b"\x07" * (5 * MiB)


@pytest.fixture
async def store(localstack_settings: Callable[..., Settings]) -> AsyncIterator[S3ObjectStore]:
    bucket = localstack_settings().minio_bucket.replace("-signed", "-parts")
    async with s3_store(localstack_settings(minio_bucket=bucket)) as store:
        await store.ensure_bucket()
        yield store


@pytest.fixture
async def upload(store: S3ObjectStore) -> AsyncIterator[tuple[str, str]]:
    key = f"datasets/{secrets.token_hex(4)}/big.bin"
    upload_id = await store.create_multipart(key, content_type="application/octet-stream")
    yield key, upload_id
    await store.abort_multipart(key, upload_id=upload_id)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def put(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    async with aiohttp.ClientSession() as http, http.put(url, data=body, headers=headers) as r:
        await r.read()
        return r.status


async def presign(store: S3ObjectStore, key: str, upload_id: str, number: int = 1) -> str:
    presigned = await store.presign_part(
        key, upload_id=upload_id, part_number=number, size_bytes=len(BODY), expires_in_s=600
    )
    return presigned.url


async def test_a_part_url_is_accepted_and_joins(
    store: S3ObjectStore, upload: tuple[str, str]
) -> None:
    key, upload_id = upload
    url = await presign(store, key, upload_id)
    # aiohttp adds a Content-Type of its own for bytes; it is not signed, so it does not matter.
    assert await put(url, BODY) == 200
    assert await put(url, BODY, {"Content-Type": "image/png"}) == 200
    parts = await store.list_parts(key, upload_id=upload_id)
    assert [(p.part_number, p.size_bytes, p.etag) for p in parts] == [
        (1, len(BODY), hashlib.md5(BODY).hexdigest())
    ]
    await store.complete_multipart(key, upload_id=upload_id, parts=parts)
    info = await store.head(key)
    assert info is not None and info.size_bytes == len(BODY)


async def test_a_part_of_another_length_is_refused(
    store: S3ObjectStore, upload: tuple[str, str]
) -> None:
    key, upload_id = upload
    url = await presign(store, key, upload_id)
    assert await put(url, BODY[:-1]) == 403
    assert await store.list_parts(key, upload_id=upload_id) == []


@pytest.mark.parametrize("change", [{"partNumber": "2"}, {"X-Amz-Expires": "604800"}])
async def test_a_changed_part_url_is_refused(
    store: S3ObjectStore, upload: tuple[str, str], change: dict[str, str]
) -> None:
    key, upload_id = upload
    url = await presign(store, key, upload_id)
    assert await put(with_query(url, **change), BODY) == 403
    assert await store.list_parts(key, upload_id=upload_id) == []

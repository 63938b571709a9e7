"""The embedded store's own behaviour, without HTTP: keys, signatures, atomic writes, reads."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from luna.errors import BackendUnavailable, Conflict, Forbidden, NotFound
from luna.storage.base import ObjectStore
from luna.storage.local import TEMP_SUFFIX, LocalObjectStore, local_store

SECRET = b"embedded-store-test-secret"


@pytest.fixture
async def store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(
        tmp_path / "objects", public_base_url="http://luna.test:8000/", secret=SECRET
    )
    await store.ensure_bucket()
    return store


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def leftovers(store: LocalObjectStore) -> list[Path]:
    return [path for path in store.root.rglob("*") if path.name.endswith(TEMP_SUFFIX)]


def test_local_store_satisfies_the_protocol(store: LocalObjectStore) -> None:
    checked: ObjectStore = store
    assert checked.kind == "embedded"


async def test_settings_put_objects_under_the_data_dir(tmp_path: Path) -> None:
    from luna.settings import Settings

    settings = Settings.model_construct(luna_data_dir=tmp_path / "data")
    async with local_store(settings, public_base_url="http://x", secret=SECRET) as store:
        await store.ensure_bucket()
        assert store.root == (tmp_path / "data" / "objects").resolve()
        assert store.root.is_dir()
        await store.ping()


async def test_presigned_url_points_at_luna(store: LocalObjectStore) -> None:
    upload = await store.presign_put(
        "datasets/4/scans/a b.png", content_type="image/png", size_bytes=10, expires_in_s=60
    )
    parts = urlsplit(upload.url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "http",
        "luna.test:8000",
        "/store/datasets/4/scans/a%20b.png",
    )
    assert set(parse_qs(parts.query)) == {"expires", "sig"}
    assert upload.method == "PUT"
    assert upload.headers == {"Content-Type": "image/png", "Content-Length": "10"}


async def test_batch_urls_are_accepted_as_presign_puts_are(store: LocalObjectStore) -> None:
    puts = [("datasets/4/scans/a b.png", "image/png", 10), ("datasets/4/m.csv", "text/csv", 0)]
    batch = store.presign_puts(puts, expires_in_s=60)
    single = await store.presign_put(
        puts[0][0], content_type="image/png", size_bytes=10, expires_in_s=60
    )
    assert urlsplit(batch[0]).path == urlsplit(single.url).path
    for url, (key, content_type, size_bytes) in zip(batch, puts, strict=True):
        query = parse_qs(urlsplit(url).query)
        store.check_upload(
            key,
            content_type=content_type,
            content_length=size_bytes,
            expires=query["expires"][0],
            signature=query["sig"][0],
        )
        with pytest.raises(Forbidden):
            store.check_upload(
                key,
                content_type=content_type,
                content_length=size_bytes + 1,
                expires=query["expires"][0],
                signature=query["sig"][0],
            )
    with pytest.raises(ValueError, match="bad object key"):
        store.presign_puts([("../escape", "image/png", 1)], expires_in_s=60)


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../escape", "a/../../escape", "a/./b", "a//b", "a\\b", "a/b/", "a\nb"],
)
async def test_keys_that_could_escape_are_refused(store: LocalObjectStore, key: str) -> None:
    with pytest.raises(ValueError, match="bad object key"):
        await store.presign_put(key, content_type="image/png", size_bytes=1, expires_in_s=60)
    with pytest.raises(ValueError, match="bad object key"):
        await store.head(key)


async def test_a_symlink_cannot_lead_out_of_the_store(
    store: LocalObjectStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="bad object key"):
        await store.write("link/x.png", chunks_of(b"x"), size_bytes=1)
    assert list(outside.iterdir()) == []


async def test_write_then_head_stream_delete(store: LocalObjectStore) -> None:
    body = os.urandom(2 * 1024 * 1024 + 7)
    key = "datasets/1/big.dcm"
    pieces = [body[i : i + 70_000] for i in range(0, len(body), 70_000)]
    await store.write(key, chunks_of(*pieces), size_bytes=len(body))
    info = await store.head(key)
    assert info is not None and (info.key, info.size_bytes) == (key, len(body))
    chunks = [chunk async for chunk in store.stream(key, chunk_bytes=300_000)]
    assert b"".join(chunks) == body
    assert all(len(chunk) == 300_000 for chunk in chunks[:-1]) and len(chunks[-1]) <= 300_000
    await store.delete(key)
    assert await store.head(key) is None
    await store.delete(key)


async def test_head_knows_the_sha256_of_what_one_put_stored_and_only_of_that(
    store: LocalObjectStore,
) -> None:
    key = "datasets/1/a.png"
    first, second = b"first body", b"other body"
    written = await store.write(key, chunks_of(first[:4], first[4:]), size_bytes=len(first))
    info = await store.head(key)
    assert info is not None and info.sha256 == written.sha256 == hashlib.sha256(first).hexdigest()
    await store.write(key, chunks_of(second), size_bytes=len(second))
    info = await store.head(key)
    assert info is not None and info.sha256 == hashlib.sha256(second).hexdigest()
    # Bytes that arrived some other way (here: replaced on disk) have no checksum to report.
    replacement = store.root / "replacement"
    replacement.write_bytes(first)
    os.replace(replacement, store.path_of(key))
    info = await store.head(key)
    assert info is not None and info.size_bytes == len(first) and info.sha256 is None
    await store.delete(key)
    assert not any((store.root / ".luna-sha256").rglob("*.png"))
    with pytest.raises(ValueError, match="bad object key"):
        store.path_of(".luna-sha256/datasets/1/a.png")


async def test_missing_objects(store: LocalObjectStore) -> None:
    assert await store.head("datasets/1/absent.png") is None
    assert await store.head("datasets") is None  # a directory is not an object
    with pytest.raises(NotFound):
        async for _chunk in store.stream("datasets/1/absent.png", chunk_bytes=10):
            pass


@pytest.mark.parametrize("parts", [[b"abc"], [b"abcdef", b"gh"], []])
async def test_a_body_of_the_wrong_length_stores_nothing(
    store: LocalObjectStore, parts: list[bytes]
) -> None:
    with pytest.raises(Forbidden):
        await store.write("datasets/1/a.png", chunks_of(*parts), size_bytes=5)
    assert await store.head("datasets/1/a.png") is None
    assert leftovers(store) == []


async def test_a_failed_write_keeps_the_previous_object(store: LocalObjectStore) -> None:
    key = "datasets/1/a.png"
    await store.write(key, chunks_of(b"first"), size_bytes=5)

    async def broken() -> AsyncIterator[bytes]:
        yield b"sec"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.write(key, broken(), size_bytes=6)
    with pytest.raises(Forbidden):
        await store.write(key, chunks_of(b"toolong"), size_bytes=6)
    assert b"".join([c async for c in store.stream(key, chunk_bytes=100)]) == b"first"
    assert leftovers(store) == []


async def test_a_key_clashing_with_a_directory_is_a_conflict(store: LocalObjectStore) -> None:
    await store.write("datasets/1/x", chunks_of(b"1"), size_bytes=1)
    with pytest.raises(Conflict):
        await store.write("datasets/1/x/y.png", chunks_of(b"1"), size_bytes=1)
    with pytest.raises(Conflict):
        await store.write("datasets/1", chunks_of(b"1"), size_bytes=1)
    assert leftovers(store) == []


async def test_check_upload_accepts_only_what_was_signed(store: LocalObjectStore) -> None:
    key = "datasets/2/m.csv"
    upload = await store.presign_put(key, content_type="text/csv", size_bytes=9, expires_in_s=60)
    query = {name: values[0] for name, values in parse_qs(urlsplit(upload.url).query).items()}
    right = {
        "content_type": "text/csv",
        "content_length": 9,
        "expires": query["expires"],
        "signature": query["sig"],
    }
    store.check_upload(key, **right)  # type: ignore[arg-type]
    wrong_ones = [
        {"content_type": "text/plain"},
        {"content_type": None},
        {"content_length": 10},
        {"content_length": None},
        {"expires": str(int(query["expires"]) + 1)},
        {"expires": "soon"},
        {"signature": "0" * 64},
        {"signature": None},
    ]
    for wrong in wrong_ones:
        with pytest.raises(Forbidden):
            store.check_upload(key, **{**right, **wrong})  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        store.check_upload("datasets/2/n.csv", **right)  # type: ignore[arg-type]
    other = LocalObjectStore(store.root, public_base_url="http://x", secret=b"another secret")
    with pytest.raises(Forbidden):
        other.check_upload(key, **right)  # type: ignore[arg-type]


async def test_an_expired_url_is_refused(
    store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "datasets/2/m.csv"
    upload = await store.presign_put(key, content_type="text/csv", size_bytes=9, expires_in_s=60)
    query = parse_qs(urlsplit(upload.url).query)
    facts = {
        "content_type": "text/csv",
        "content_length": 9,
        "expires": query["expires"][0],
        "signature": query["sig"][0],
    }
    expires_at = int(query["expires"][0])
    monkeypatch.setattr("luna.storage.local.time.time", lambda: expires_at + 0.5)
    with pytest.raises(Forbidden, match="expired"):
        store.check_upload(key, **facts)  # type: ignore[arg-type]
    monkeypatch.setattr("luna.storage.local.time.time", lambda: expires_at - 0.5)
    store.check_upload(key, **facts)  # type: ignore[arg-type]


@pytest.mark.parametrize("expires_in_s", [0, -1])
async def test_a_url_must_live_a_while(store: LocalObjectStore, expires_in_s: int) -> None:
    with pytest.raises(ValueError, match="expires_in_s"):
        await store.presign_put(
            "datasets/1/a.png", content_type="image/png", size_bytes=1, expires_in_s=expires_in_s
        )


async def test_ping_fails_when_the_directory_is_gone(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "never-made", public_base_url="http://x", secret=SECRET)
    with pytest.raises(BackendUnavailable) as caught:
        await store.ping()
    assert caught.value.backend == "embedded"

"""The embedded object store: objects as files under one directory, uploads served by luna.

For running luna with no S3 at all. Upload URLs point at luna's own `PUT /store/{key}` (see
`luna.http.local_store`), signed with HMAC-SHA256 over the method, key, content type, content
length and expiry; a write lands atomically or not at all.

Each object written by one PUT has its SHA-256 recorded beside it, under `.luna-sha256/{key}`
(with the object file's inode, mtime and size, so a record that no longer describes the file is
ignored); `head` reports it, which lets `upload/urls` tell a resuming client that the store holds
a file with its declared checksum, not only its size.

Multipart uploads keep their parts in `.luna-multipart/{upload_id}/` under the root, one file
per part named `{part_number:05d}.{md5}` (written atomically, like objects); completing joins
them into the object, atomically, and removes the folder.

    store = LocalObjectStore(data_dir / "objects", public_base_url="http://luna:8000",
                             secret=b"...")
    upload = await store.presign_put("datasets/17/a.png", content_type="image/png",
                                     size_bytes=1024, expires_in_s=3600)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final, TypeVar
from urllib.parse import quote, urlencode

from luna.errors import BackendUnavailable, Conflict, Forbidden, NotFound
from luna.settings import Settings
from luna.storage.base import ObjectInfo, PresignedUpload, StoredPart

_T = TypeVar("_T")

# Incoming bytes are gathered to this size before one write in a worker thread: large enough
# that thread hops are rare, small enough that an upload holds little memory.
WRITE_BUFFER_BYTES: Final = 1024 * 1024
# Temp files live in one folder under the root (a rename never crosses filesystems), named by a
# random token alone: any object name, however long or whatever its ending, gets a temp file
# whose name fits the filesystem. The suffix lets a cleanup find leftovers of a crash.
TEMP_DIR: Final = ".luna-tmp"
TEMP_SUFFIX: Final = ".luna-partial"
# Multipart uploads live in this folder under the root; no object key may start with it.
MULTIPART_DIR: Final = ".luna-multipart"
# The recorded SHA-256 of each object written by one PUT lives under this folder of the root.
SUMS_DIR: Final = ".luna-sha256"
# What describes an upload inside its folder (the key it belongs to, its content type).
_UPLOAD_META: Final = "upload.json"
_PART_FILE = re.compile(r"^(\d{5})\.([0-9a-f]{32})$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
# Parts are numbered like S3's.
MAX_PART_NUMBER: Final = 10_000


def _check_key(key: str) -> None:
    """Refuse keys that could leave the store's directory or make the signed text ambiguous."""
    if not key or key.startswith("/") or "\\" in key:
        raise ValueError(f"bad object key {key!r}")
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in key):
        raise ValueError(f"bad object key {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"bad object key {key!r}")
    if parts[0] in (MULTIPART_DIR, TEMP_DIR, SUMS_DIR):
        raise ValueError(f"bad object key {key!r}")


def upload_signature(
    secret: bytes, *, key: str, content_type: str, size_bytes: int, expires_at: int
) -> str:
    """The hex HMAC-SHA256 of one allowed PUT. No field can contain a newline (keys are checked,
    header values cannot), so joining with newlines is unambiguous."""
    message = f"PUT\n{key}\n{content_type}\n{size_bytes}\n{expires_at}"
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def part_signature(
    secret: bytes, *, key: str, upload_id: str, part_number: int, size_bytes: int, expires_at: int
) -> str:
    """The hex HMAC-SHA256 of one allowed part PUT. The leading word keeps a part's signature
    from ever passing as a whole object's, and the other way round."""
    message = f"PUT-PART\n{key}\n{upload_id}\n{part_number}\n{size_bytes}\n{expires_at}"
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


class _TempFile:
    """A file written beside its destination and renamed over it only when complete."""

    def __init__(self, destination: Path, *, temp_dir: Path) -> None:
        self.destination = destination
        destination.parent.mkdir(parents=True, exist_ok=True)
        temp_dir.mkdir(exist_ok=True)
        self.path = temp_dir / f"{secrets.token_hex(8)}{TEMP_SUFFIX}"
        self._file: BinaryIO | None = open(self.path, "xb")
        # The file's facts as committed (a rename keeps inode and mtime).
        self.committed: os.stat_result | None = None

    def write(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)

    def copy_from(self, source: Path) -> None:
        assert self._file is not None
        with open(source, "rb") as part:
            shutil.copyfileobj(part, self._file, WRITE_BUFFER_BYTES)

    def commit(self) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self.committed = os.fstat(self._file.fileno())
        self._file.close()
        self._file = None
        os.replace(self.path, self.destination)
        # The rename itself is durable only once the directory is synced.
        directory = os.open(self.destination.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class LocalObjectStore:
    """`ObjectStore` over a directory; `PUT /store/{key}` (luna.http.local_store) fills it."""

    kind = "embedded"

    def __init__(self, root: Path, *, public_base_url: str, secret: bytes) -> None:
        if not secret:
            raise ValueError("the embedded store needs a signing secret")
        self.root = root.resolve()
        self._base_url = public_base_url.rstrip("/")
        self._secret = secret

    def path_of(self, key: str) -> Path:
        """Where `key` lives on disk; raises ValueError for a key that would leave the root."""
        _check_key(key)
        path = (self.root / key).resolve()
        # resolve() follows symlinks, so a link inside the root cannot lead out of it either.
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"bad object key {key!r}")
        return path

    def _temp_file(self, destination: Path) -> _TempFile:
        return _TempFile(destination, temp_dir=self.root / TEMP_DIR)

    async def ensure_bucket(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailable(self.kind, f"create {self.root}: {exc}") from exc

    async def ping(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise BackendUnavailable(self.kind, f"{self.root} is not a writable directory")

    def _expiry_for(self, key: str, *, size_bytes: int, expires_in_s: int) -> int:
        """Check what every signed URL needs (a key inside the store, a sane size and
        lifetime) and return its expiry as a Unix time."""
        self.path_of(key)
        if size_bytes < 0:
            raise ValueError("size_bytes must not be negative")
        if expires_in_s < 1:
            raise ValueError("expires_in_s must be positive")
        return int(time.time()) + expires_in_s

    async def presign_put(
        self, key: str, *, content_type: str, size_bytes: int, expires_in_s: int
    ) -> PresignedUpload:
        expires_at = self._expiry_for(key, size_bytes=size_bytes, expires_in_s=expires_in_s)
        signature = upload_signature(
            self._secret,
            key=key,
            content_type=content_type,
            size_bytes=size_bytes,
            expires_at=expires_at,
        )
        query = urlencode({"expires": expires_at, "sig": signature})
        url = f"{self._base_url}/store/{quote(key, safe='/')}?{query}"
        headers = {"Content-Type": content_type, "Content-Length": str(size_bytes)}
        return PresignedUpload(url=url, method="PUT", headers=headers)

    def presign_puts(self, puts: Sequence[tuple[str, str, int]], *, expires_in_s: int) -> list[str]:
        urls = []
        base, secret = f"{self._base_url}/store/", self._secret
        for key, content_type, size_bytes in puts:
            expires_at = self._expiry_for(key, size_bytes=size_bytes, expires_in_s=expires_in_s)
            signature = upload_signature(
                secret,
                key=key,
                content_type=content_type,
                size_bytes=size_bytes,
                expires_at=expires_at,
            )
            query = urlencode({"expires": expires_at, "sig": signature})
            urls.append(f"{base}{quote(key, safe='/')}?{query}")
        return urls

    def check_upload(
        self,
        key: str,
        *,
        content_type: str | None,
        content_length: int | None,
        expires: str | None,
        signature: str | None,
    ) -> None:
        """Raise `Forbidden` unless a PUT with these facts was presigned and has not expired."""
        if content_type is None or content_length is None or not expires or not signature:
            raise Forbidden("the upload URL or its Content-Type/Content-Length is missing")
        try:
            self.path_of(key)
            expires_at = int(expires)
        except ValueError:
            raise Forbidden("the upload URL is not valid") from None
        expected = upload_signature(
            self._secret,
            key=key,
            content_type=content_type.strip(),
            size_bytes=content_length,
            expires_at=expires_at,
        )
        if not hmac.compare_digest(expected, signature):
            raise Forbidden(
                "the upload URL's signature does not match this request; send exactly the "
                "headers returned with the URL"
            )
        if time.time() > expires_at:
            raise Forbidden("the upload URL has expired; start the upload again")

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, size_bytes: int) -> ObjectInfo:
        """Store exactly `size_bytes` from `chunks` as `key`, atomically.

        Any failure (short or long body, a broken connection, cancellation) leaves the previous
        object, if any, untouched and no temp file behind. A body of the wrong length raises
        `Forbidden`, a key clashing with a directory `Conflict`, a disk failure
        `BackendUnavailable`.
        """
        destination = self.path_of(key)
        temp = await self._run(f"write {key}", partial(self._temp_file, destination))
        digest = hashlib.sha256()

        def write(data: bytes) -> None:
            digest.update(data)
            temp.write(data)

        try:
            await self._fill(f"write {key}", write, chunks, size_bytes=size_bytes)
            await self._run(f"write {key}", temp.commit)
        except BaseException:
            # Synchronous on purpose: it must also run when the task is being cancelled.
            temp.discard()
            raise
        sha256 = digest.hexdigest()
        assert temp.committed is not None
        record = _sum_record(sha256, temp.committed)
        await self._run(f"record the SHA-256 of {key}", partial(self._record_sum, key, record))
        return ObjectInfo(key=key, size_bytes=size_bytes, sha256=sha256)

    def _sum_path(self, key: str) -> Path:
        return self.root / SUMS_DIR / key

    def _record_sum(self, key: str, record: str) -> None:
        """Write `key`'s SHA-256 record atomically (not synced: a record lost in a crash only
        makes the checksum unknown)."""
        path = self._sum_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.root / TEMP_DIR / f"{secrets.token_hex(8)}{TEMP_SUFFIX}"
        temp.write_text(record)
        os.replace(temp, path)

    def _recorded_sum(self, key: str, facts: os.stat_result) -> str | None:
        """`key`'s recorded SHA-256 if the record describes the file as it is now."""
        try:
            record = self._sum_path(key).read_text()
        except (OSError, UnicodeDecodeError):
            return None
        sha256, _, describes = record.partition(" ")
        return sha256 if describes == _sum_record("", facts)[1:] else None

    async def _fill(
        self,
        what: str,
        write: Callable[[bytes], None],
        chunks: AsyncIterable[bytes],
        *,
        size_bytes: int,
    ) -> None:
        """Hand exactly `size_bytes` from `chunks` to `write` (in a worker thread, in large
        pieces); `Forbidden` when the body is shorter or longer."""
        received = 0
        buffer = bytearray()
        async for chunk in chunks:
            received += len(chunk)
            if received > size_bytes:
                raise Forbidden(f"the body is longer than the signed {size_bytes} bytes")
            buffer += chunk
            if len(buffer) >= WRITE_BUFFER_BYTES:
                await self._run(what, partial(write, bytes(buffer)))
                buffer.clear()
        if received != size_bytes:
            raise Forbidden(f"the body has {received} bytes, the URL was signed for {size_bytes}")
        await self._run(what, partial(write, bytes(buffer)))

    async def _run(self, what: str, work: Callable[[], _T]) -> _T:
        try:
            return await asyncio.to_thread(work)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise Conflict(f"{what}: the key clashes with another object's path") from exc
        except OSError as exc:
            raise BackendUnavailable(self.kind, f"{what}: {exc}") from exc

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.path_of(key)
        try:
            # One stat is cheaper than the thread hop that would move it off the loop.
            facts = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise BackendUnavailable(self.kind, f"head {key}: {exc}") from exc
        if not stat.S_ISREG(facts.st_mode):
            return None
        # Only bytes are kept; the Content-Type was enforced by the signature on upload.
        # A small read beside the stat, on the loop for the same reason.
        return ObjectInfo(key=key, size_bytes=facts.st_size, sha256=self._recorded_sum(key, facts))

    async def etags(self, prefix: str) -> dict[str, str] | None:
        return None  # PUT /store/ refuses changes to a completed dataset's objects instead

    async def stream(
        self, key: str, *, chunk_bytes: int, if_match: str | None = None
    ) -> AsyncIterator[bytes]:
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        path = self.path_of(key)
        try:
            file = await asyncio.to_thread(open, path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise NotFound(f"object {key} does not exist") from exc
        except OSError as exc:
            raise BackendUnavailable(self.kind, f"read {key}: {exc}") from exc
        try:
            while True:
                try:
                    chunk = await asyncio.to_thread(file.read, chunk_bytes)
                except OSError as exc:
                    raise BackendUnavailable(self.kind, f"read {key}: {exc}") from exc
                if not chunk:
                    return
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            path.unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            return
        except OSError as exc:
            raise BackendUnavailable(self.kind, f"delete {key}: {exc}") from exc
        with contextlib.suppress(OSError):  # a stale record is ignored anyway
            self._sum_path(key).unlink(missing_ok=True)

    # ------------------------------------------------------------ multipart uploads

    def _upload_folder(self, key: str, upload_id: str) -> Path:
        """The folder of `key`'s upload `upload_id`; `NotFound` unless it is open."""
        self.path_of(key)
        if not _UPLOAD_ID.match(upload_id):
            raise NotFound(f"no multipart upload {upload_id!r} of {key}")
        folder = self.root / MULTIPART_DIR / upload_id
        try:
            meta = json.loads((folder / _UPLOAD_META).read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"no multipart upload {upload_id} of {key}") from None
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(self.kind, f"read upload {upload_id}: {exc}") from exc
        if meta.get("key") != key:
            raise NotFound(f"no multipart upload {upload_id} of {key}")
        return folder

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        self.path_of(key)
        upload_id = secrets.token_hex(16)
        folder = self.root / MULTIPART_DIR / upload_id
        meta = json.dumps({"key": key, "content_type": content_type}).encode()

        def create() -> None:
            folder.mkdir(parents=True)
            temp = self._temp_file(folder / _UPLOAD_META)
            try:
                temp.write(meta)
                temp.commit()
            except BaseException:
                temp.discard()
                raise

        await self._run(f"create multipart upload {key}", create)
        return upload_id

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, size_bytes: int, expires_in_s: int
    ) -> PresignedUpload:
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise ValueError(f"part_number must be within 1..{MAX_PART_NUMBER}")
        expires_at = self._expiry_for(key, size_bytes=size_bytes, expires_in_s=expires_in_s)
        signature = part_signature(
            self._secret,
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            size_bytes=size_bytes,
            expires_at=expires_at,
        )
        query = urlencode(
            {"upload_id": upload_id, "part": part_number, "expires": expires_at, "sig": signature}
        )
        url = f"{self._base_url}/store/{quote(key, safe='/')}?{query}"
        return PresignedUpload(url=url, method="PUT", headers={"Content-Length": str(size_bytes)})

    def check_part_upload(
        self,
        key: str,
        *,
        upload_id: str,
        part: str | None,
        content_length: int | None,
        expires: str | None,
        signature: str | None,
    ) -> int:
        """The part number of a part PUT that was presigned and has not expired; else
        `Forbidden`. Unlike a whole object's, a part's Content-Type is not signed."""
        if content_length is None or not part or not expires or not signature:
            raise Forbidden("the part URL or its Content-Length is missing")
        try:
            self.path_of(key)
            part_number = int(part)
            expires_at = int(expires)
        except ValueError:
            raise Forbidden("the part URL is not valid") from None
        if not _UPLOAD_ID.match(upload_id):
            raise Forbidden("the part URL is not valid")
        expected = part_signature(
            self._secret,
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            size_bytes=content_length,
            expires_at=expires_at,
        )
        if not hmac.compare_digest(expected, signature):
            raise Forbidden(
                "the part URL's signature does not match this request; send exactly the "
                "Content-Length returned with the URL"
            )
        if time.time() > expires_at:
            raise Forbidden("the part URL has expired; ask for new part URLs")
        return part_number

    async def write_part(
        self,
        key: str,
        *,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterable[bytes],
        size_bytes: int,
    ) -> StoredPart:
        """Store part `part_number` of an open upload from exactly `size_bytes` of `chunks`,
        atomically, replacing an earlier copy; `NotFound` when the upload is not open."""
        what = f"write part {part_number} of {key}"
        folder = await self._run(what, partial(self._upload_folder, key, upload_id))
        temp = await self._run(what, partial(self._temp_file, folder / f"{part_number:05d}"))
        # S3's etag of a part is its MD5; the same here lets a client check a part either way.
        digest = hashlib.md5(usedforsecurity=False)

        def write(data: bytes) -> None:
            digest.update(data)
            temp.write(data)

        try:
            await self._fill(what, write, chunks, size_bytes=size_bytes)
            etag = digest.hexdigest()
            temp.destination = folder / f"{part_number:05d}.{etag}"
            await self._run(what, temp.commit)
        except BaseException:
            temp.discard()
            raise
        await self._run(what, partial(_drop_older_copies, temp.destination))
        return StoredPart(part_number=part_number, size_bytes=size_bytes, etag=etag)

    async def list_parts(self, key: str, *, upload_id: str) -> list[StoredPart]:
        what = f"list parts of {key}"
        folder = await self._run(what, partial(self._upload_folder, key, upload_id))
        return await self._run(what, partial(_scan_parts, folder))

    async def complete_multipart(
        self, key: str, *, upload_id: str, parts: Sequence[StoredPart]
    ) -> None:
        what = f"complete multipart upload {key}"
        folder = await self._run(what, partial(self._upload_folder, key, upload_id))
        sources = await self._run(what, partial(_part_files, folder, parts))
        temp = await self._run(what, partial(self._temp_file, self.path_of(key)))
        try:
            # One thread hop per part: a cancelled join stops between parts, not at the end.
            for source in sources:
                await self._run(what, partial(temp.copy_from, source))
            await self._run(what, temp.commit)
        except BaseException:
            temp.discard()
            raise
        await self._run(what, partial(shutil.rmtree, folder, ignore_errors=True))

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        what = f"abort multipart upload {key}"
        try:
            folder = await self._run(what, partial(self._upload_folder, key, upload_id))
        except NotFound:
            return
        await self._run(what, partial(shutil.rmtree, folder, ignore_errors=True))


def _sum_record(sha256: str, facts: os.stat_result) -> str:
    """The SHA-256 record of a file: its digest and what identifies this version of it."""
    return f"{sha256} {facts.st_ino} {facts.st_mtime_ns} {facts.st_size}"


def _part_number_and_etag(name: str) -> tuple[int, str] | None:
    match = _PART_FILE.match(name)
    return (int(match[1]), match[2]) if match else None


def _drop_older_copies(kept: Path) -> None:
    """Remove copies of `kept`'s part written before it (a part sent again with other bytes).
    Two copies written in the same instant both stay; listing picks one, both are whole."""
    number = int(kept.name[:5])
    kept_mtime_ns = kept.stat().st_mtime_ns
    for entry in os.scandir(kept.parent):
        found = _part_number_and_etag(entry.name)
        if found is None or found[0] != number or entry.name == kept.name:
            continue
        with contextlib.suppress(FileNotFoundError):
            if entry.stat().st_mtime_ns < kept_mtime_ns:
                os.unlink(entry.path)


def _scan_parts(folder: Path) -> list[StoredPart]:
    """The newest copy of every stored part, by part number."""
    newest: dict[int, tuple[int, StoredPart]] = {}
    for entry in os.scandir(folder):
        found = _part_number_and_etag(entry.name)
        if found is None:
            continue
        try:
            facts = entry.stat()
        except FileNotFoundError:
            continue  # replaced by a newer copy while we looked
        number, etag = found
        part = StoredPart(part_number=number, size_bytes=facts.st_size, etag=etag)
        if number not in newest or facts.st_mtime_ns > newest[number][0]:
            newest[number] = (facts.st_mtime_ns, part)
    return [part for _, (_, part) in sorted(newest.items())]


def _part_files(folder: Path, parts: Sequence[StoredPart]) -> list[Path]:
    """The files holding exactly `parts`; `Conflict` when the list cannot be joined."""
    if not parts:
        raise Conflict("a multipart upload needs at least one part to complete")
    numbers = [part.part_number for part in parts]
    if numbers != sorted(set(numbers)):
        raise Conflict("parts must be listed by ascending part number, each once")
    files = []
    for part in parts:
        name = f"{part.part_number:05d}.{part.etag}"
        path = folder / name
        if _part_number_and_etag(name) is None or not path.is_file():
            raise Conflict(f"part {part.part_number} with etag {part.etag!r} is not stored")
        files.append(path)
    return files


@asynccontextmanager
async def local_store(
    settings: Settings, *, public_base_url: str, secret: bytes
) -> AsyncIterator[LocalObjectStore]:
    """The process's embedded store under `LUNA_DATA_DIR/objects`; nothing to close."""
    yield LocalObjectStore(
        settings.luna_data_dir / "objects", public_base_url=public_base_url, secret=secret
    )

"""The embedded object store: objects as files under one directory, uploads served by luna.

For running luna with no S3 at all. Upload URLs point at luna's own `PUT /store/{key}` (see
`luna.http.local_store`), signed with HMAC-SHA256 over the method, key, content type, content
length and expiry; a write lands atomically or not at all.

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
import os
import secrets
import stat
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final, TypeVar
from urllib.parse import quote, urlencode

from luna.errors import BackendUnavailable, Conflict, Forbidden, NotFound
from luna.settings import Settings
from luna.storage.base import ObjectInfo, PresignedUpload

_T = TypeVar("_T")

# Incoming bytes are gathered to this size before one write in a worker thread: large enough
# that thread hops are rare, small enough that an upload holds little memory.
WRITE_BUFFER_BYTES: Final = 1024 * 1024
# Temp files live beside their object (a rename never crosses filesystems); this suffix and a
# leading dot keep them apart from objects, and lets a cleanup find leftovers of a crash.
TEMP_SUFFIX: Final = ".luna-partial"


def _check_key(key: str) -> None:
    """Refuse keys that could leave the store's directory or make the signed text ambiguous."""
    if not key or key.startswith("/") or "\\" in key:
        raise ValueError(f"bad object key {key!r}")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        raise ValueError(f"bad object key {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") or part.endswith(TEMP_SUFFIX) for part in parts):
        raise ValueError(f"bad object key {key!r}")


def upload_signature(
    secret: bytes, *, key: str, content_type: str, size_bytes: int, expires_at: int
) -> str:
    """The hex HMAC-SHA256 of one allowed PUT. No field can contain a newline (keys are checked,
    header values cannot), so joining with newlines is unambiguous."""
    message = f"PUT\n{key}\n{content_type}\n{size_bytes}\n{expires_at}"
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


class _TempFile:
    """A file written beside its destination and renamed over it only when complete."""

    def __init__(self, destination: Path) -> None:
        self.destination = destination
        destination.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        self.path = destination.with_name(f".{destination.name}.{token}{TEMP_SUFFIX}")
        self._file: BinaryIO | None = open(self.path, "xb")

    def write(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)

    def commit(self) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
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

    async def ensure_bucket(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailable(self.kind, f"create {self.root}: {exc}") from exc

    async def ping(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise BackendUnavailable(self.kind, f"{self.root} is not a writable directory")

    async def presign_put(
        self, key: str, *, content_type: str, size_bytes: int, expires_in_s: int
    ) -> PresignedUpload:
        self.path_of(key)
        if size_bytes < 0:
            raise ValueError("size_bytes must not be negative")
        if expires_in_s < 1:
            raise ValueError("expires_in_s must be positive")
        expires_at = int(time.time()) + expires_in_s
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
        temp = await self._run(f"write {key}", partial(_TempFile, destination))
        try:
            received = 0
            buffer = bytearray()
            async for chunk in chunks:
                received += len(chunk)
                if received > size_bytes:
                    raise Forbidden(f"the body is longer than the signed {size_bytes} bytes")
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER_BYTES:
                    await self._run(f"write {key}", partial(temp.write, bytes(buffer)))
                    buffer.clear()
            if received != size_bytes:
                raise Forbidden(
                    f"the body has {received} bytes, the URL was signed for {size_bytes}"
                )
            await self._run(f"write {key}", partial(temp.write, bytes(buffer)))
            await self._run(f"write {key}", temp.commit)
        except BaseException:
            # Synchronous on purpose: it must also run when the task is being cancelled.
            temp.discard()
            raise
        return ObjectInfo(key=key, size_bytes=size_bytes)

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
        return ObjectInfo(key=key, size_bytes=facts.st_size)

    async def stream(self, key: str, *, chunk_bytes: int) -> AsyncIterator[bytes]:
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


@asynccontextmanager
async def local_store(
    settings: Settings, *, public_base_url: str, secret: bytes
) -> AsyncIterator[LocalObjectStore]:
    """The process's embedded store under `LUNA_DATA_DIR/objects`; nothing to close."""
    yield LocalObjectStore(
        settings.luna_data_dir / "objects", public_base_url=public_base_url, secret=secret
    )

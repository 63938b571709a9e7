"""The object store as luna sees it: presign an upload, look at an object, stream it.

Every store, S3 or embedded, is used the same way:

    upload = await store.presign_put("datasets/17/a.png", content_type="image/png",
                                     size_bytes=1024, expires_in_s=3600)
    info = await store.head("datasets/17/a.png")      # None when absent
    async for chunk in store.stream("datasets/17/a.png", chunk_bytes=1 << 20): ...

A large object arrives in parts (S3 multipart upload semantics, on every store):

    upload_id = await store.create_multipart(key, content_type="application/dicom")
    part = await store.presign_part(key, upload_id=upload_id, part_number=1,
                                    size_bytes=16 << 20, expires_in_s=3600)
    stored = await store.list_parts(key, upload_id=upload_id)   # what has arrived so far
    await store.complete_multipart(key, upload_id=upload_id, parts=stored)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PresignedUpload:
    """A URL a client PUTs to, with exactly the headers it must send."""

    url: str
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size_bytes: int
    content_type: str | None = None
    # The hex SHA-256 of the stored bytes, when the store knows it without reading them (the
    # embedded store records it as a PUT streams in); None: unknown.
    sha256: str | None = None


@dataclass(frozen=True)
class StoredPart:
    """One part of a multipart upload that the store holds."""

    part_number: int
    size_bytes: int
    etag: str  # the hex MD5 of the part's bytes, without quotes (as S3 computes it)


class ObjectStore(Protocol):
    """Where datasets live. Every method raises `BackendUnavailable` when the store fails
    (its `backend` is the store's `kind`); an absent object is not a failure.

    Implementations: `luna.storage.s3.S3ObjectStore` (built by `s3_store(settings)`) and
    `luna.storage.local.LocalObjectStore` (the embedded store, uploads served by luna).
    """

    kind: str  # "s3" or "embedded", reported by /health

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist."""

    async def ping(self) -> None:
        """Raise `BackendUnavailable` unless the store answers."""

    async def presign_put(
        self, key: str, *, content_type: str, size_bytes: int, expires_in_s: int
    ) -> PresignedUpload:
        """A URL that accepts exactly this body type and length until it expires.

        `headers` are the ones the client must send (Content-Type and Content-Length); a
        client may add others. Offline: works while the store is down."""
        ...

    def presign_puts(self, puts: Sequence[tuple[str, str, int]], *, expires_in_s: int) -> list[str]:
        """`presign_put` for each (key, content_type, size_bytes) at once, in order, without
        an await per URL (`upload/start` signs up to 100,000): only the URLs, each used
        exactly as `presign_put`'s is, a PUT sending Content-Type and Content-Length. Offline."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """The stored object's facts, or None when there is none."""
        ...

    def stream(
        self, key: str, *, chunk_bytes: int, if_match: str | None = None
    ) -> AsyncIterator[bytes]:
        """The object's bytes in order, in chunks of `chunk_bytes` (the last may be shorter),
        never the whole object in memory. An absent object raises `luna.errors.NotFound`;
        with `if_match`, an object whose ETag is another raises `luna.errors.ObjectChanged`."""
        ...

    async def etags(self, prefix: str) -> dict[str, str] | None:
        """The ETag of every object whose key starts with `prefix` (without quotes), or None
        for a store that keeps no ETags (the embedded one, which instead refuses any change to
        a completed dataset's objects)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; absent objects are not an error."""

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        """Open a multipart upload of `key`; returns its upload id. The object appears only
        when the upload is completed."""
        ...

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, size_bytes: int, expires_in_s: int
    ) -> PresignedUpload:
        """A URL accepting part `part_number` (1-based) of exactly `size_bytes` until it
        expires; `headers` name the Content-Length. A part sent again replaces the earlier one.
        Offline: works while the store is down."""
        ...

    async def list_parts(self, key: str, *, upload_id: str) -> list[StoredPart]:
        """The parts stored so far, by ascending part number. An upload that does not exist
        (never opened, completed or aborted) raises `luna.errors.NotFound`."""
        ...

    async def complete_multipart(
        self, key: str, *, upload_id: str, parts: Sequence[StoredPart]
    ) -> None:
        """Join `parts` (ascending, as `list_parts` gave them) into the object `key`, which
        appears whole or not at all, and drop the upload. Parts the store does not hold, or
        holds with another etag, raise `luna.errors.Conflict`; an unknown upload `NotFound`."""
        ...

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        """Drop the upload and every stored part; an unknown upload is not an error."""

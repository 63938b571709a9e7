"""The object store as luna sees it: presign an upload, look at an object, stream it.

Every store, S3 or embedded, is used the same way:

    upload = await store.presign_put("datasets/17/a.png", content_type="image/png",
                                     size_bytes=1024, expires_in_s=3600)
    info = await store.head("datasets/17/a.png")      # None when absent
    async for chunk in store.stream("datasets/17/a.png", chunk_bytes=1 << 20): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
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

    async def head(self, key: str) -> ObjectInfo | None:
        """The stored object's facts, or None when there is none."""
        ...

    def stream(self, key: str, *, chunk_bytes: int) -> AsyncIterator[bytes]:
        """The object's bytes in order, in chunks of `chunk_bytes` (the last may be shorter),
        never the whole object in memory. An absent object raises `luna.errors.NotFound`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; absent objects are not an error."""

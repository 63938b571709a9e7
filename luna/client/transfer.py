"""How one file's bytes reach the object store. A strategy per file: `SinglePut` here sends
the whole file in one PUT; `luna.client.multipart.MultipartTransfer` sends a large file's
parts (and only the missing ones on a resume), without the uploader knowing the difference.

    transfer = SinglePut(slots=asyncio.Semaphore(4))
    await transfer.send(session, file, target, progress=bar.advance, on_retry=note)

A strategy reports bytes as they leave (`progress(+n)`) and takes back what a failed
attempt had sent (`progress(-n)`), so the dataset's progress bar never counts a byte twice.
`slots`, shared by every transfer of a submission, bounds the PUTs in flight; a slot is held
for one attempt, never during a retry's backoff.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
from yarl import URL

from luna.client.api import UploadTarget
from luna.client.constants import (
    CONNECT_TIMEOUT_S,
    EXPECT_CONTINUE_MIN_BYTES,
    READ_CHUNK_BYTES,
    UPLOAD_ATTEMPTS,
    UPLOAD_READ_TIMEOUT_S,
)
from luna.client.errors import LocalFileChanged, UploadFailed, UploadUrlRefused
from luna.client.local_files import LocalFile
from luna.client.retry import (
    OnRetry,
    TransientHttpError,
    is_transient_status,
    retrying,
    transient_transfer_error,
)

UPLOAD_TIMEOUT = aiohttp.ClientTimeout(
    total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=UPLOAD_READ_TIMEOUT_S
)
# S3 and MinIO answer errors as XML; the local store as problem+json.
_XML_MESSAGE = re.compile(rb"<Message>(.*?)</Message>", re.S)
_XML_CODE = re.compile(rb"<Code>(.*?)</Code>", re.S)


class FileTransfer(Protocol):
    """One file's way to the store, retries included."""

    async def send(
        self,
        session: aiohttp.ClientSession,
        file: LocalFile,
        target: UploadTarget,
        *,
        progress: Callable[[int], None],
        on_retry: OnRetry | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class SinglePut:
    """The whole file in one presigned PUT, streamed from disk; the file is the unit of
    retry."""

    attempts: int = UPLOAD_ATTEMPTS
    slots: asyncio.Semaphore | None = field(default=None, compare=False)

    async def send(
        self,
        session: aiohttp.ClientSession,
        file: LocalFile,
        target: UploadTarget,
        *,
        progress: Callable[[int], None],
        on_retry: OnRetry | None = None,
    ) -> None:
        async def attempt() -> None:
            sent = 0

            def count(n_bytes: int) -> None:
                nonlocal sent
                sent += n_bytes
                progress(n_bytes)

            async with slot(self.slots):
                try:
                    await put_file(session, file, target, on_bytes=count)
                except BaseException:
                    progress(-sent)
                    raise

        attempts = self.attempts
        try:
            await retrying(attempt, attempts=attempts, on_retry=on_retry)
        except Exception as exc:
            if not transient_transfer_error(exc):
                raise
            raise UploadFailed(
                file.filename,
                f"gave up after {attempts} attempts; the last one failed with: "
                f"{describe_transfer_error(exc)}",
            ) from exc


def slot(slots: asyncio.Semaphore | None) -> AbstractAsyncContextManager[object]:
    """One of the submission's upload slots, or no bound at all."""
    return slots if slots is not None else nullcontext()


def describe_transfer_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer from the store in time"
    return str(exc) or type(exc).__name__


async def put_file(
    session: aiohttp.ClientSession,
    file: LocalFile,
    target: UploadTarget,
    *,
    on_bytes: Callable[[int], None],
) -> None:
    """One attempt: PUT the file with exactly the target's headers."""
    if target.url is None:
        raise UploadFailed(file.filename, "the server gave no single upload URL for this file")
    await check_unchanged(file)
    await put_body(
        session,
        file,
        method=target.method,
        url=target.url,
        headers=target.headers,
        body=read_chunks(file, on_bytes=on_bytes),
        size_bytes=file.size_bytes,
    )


async def check_unchanged(file: LocalFile) -> None:
    """Refuse to send a file whose size is no longer the one declared (and hashed)."""
    stat = await asyncio.to_thread(file.path.stat)
    if stat.st_size != file.size_bytes:
        raise LocalFileChanged(
            file.filename,
            f"the file is now {stat.st_size} bytes, not the {file.size_bytes} declared; it "
            "changed during the submission: run luna submit again",
        )


async def put_body(
    session: aiohttp.ClientSession,
    file: LocalFile,
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: AsyncIterator[bytes],
    size_bytes: int,
) -> None:
    """Send `body` (`size_bytes` of `file`) to a presigned URL; a store's refusal becomes the
    error that says what to do about it."""
    async with session.request(
        method,
        # The presigned query is already encoded; re-encoding it would break the signature.
        URL(url, encoded=True),
        data=body,
        headers=headers,
        # A large body first asks whether the store will take it: a refused URL (expired,
        # tampered) is then known before gigabytes are sent for nothing.
        expect100=size_bytes >= EXPECT_CONTINUE_MIN_BYTES,
        timeout=UPLOAD_TIMEOUT,
    ) as response:
        if 200 <= response.status < 300:
            return
        reason = store_error_reason(await response.read()) or response.reason or ""
    if response.status == 403:
        raise UploadUrlRefused(
            file.filename,
            f"the store refused the upload (403: {reason}); the upload URL has expired or no "
            "longer matches the file: run luna submit again for fresh URLs",
        )
    if is_transient_status(response.status):
        raise TransientHttpError(response.status, reason)
    raise UploadFailed(file.filename, f"the store answered {response.status}: {reason}")


async def read_chunks(
    file: LocalFile,
    *,
    on_bytes: Callable[[int], None],
    offset: int = 0,
    length: int | None = None,
) -> AsyncIterator[bytes]:
    """`length` bytes of the file from `offset` (default: all of it) in chunks, read in a
    worker thread; never more than asked, and never the whole range in memory."""
    stream = await asyncio.to_thread(file.path.open, "rb")
    try:
        if offset:
            await asyncio.to_thread(stream.seek, offset)
        left = file.size_bytes - offset if length is None else length
        while left > 0:
            chunk = await asyncio.to_thread(stream.read, min(READ_CHUNK_BYTES, left))
            if not chunk:
                break  # shrank since stat(): the store sees a short body and refuses it
            left -= len(chunk)
            on_bytes(len(chunk))
            yield chunk
    finally:
        await asyncio.to_thread(stream.close)


def store_error_reason(raw: bytes) -> str:
    """The store's one-line reason: S3's <Code>/<Message>, a problem's detail, or the text."""
    message = _XML_MESSAGE.search(raw)
    code = _XML_CODE.search(raw)
    if message or code:
        parts = [m.group(1).decode(errors="replace").strip() for m in (code, message) if m]
        return ": ".join(parts)
    try:
        import orjson

        body = orjson.loads(raw)
        if isinstance(body, dict) and "detail" in body:
            return str(body["detail"])
    except orjson.JSONDecodeError:
        pass
    return raw.decode(errors="replace").strip()[:200]

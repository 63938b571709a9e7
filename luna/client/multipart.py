"""Large files in parts: the transfer for a file that `upload/start` planned as multipart
(`"multipart": {"part_size_bytes", "parts"}`). Its parts go in parallel, each streamed from its
byte range on disk (never the whole file in memory) and retried on its own, so a broken
connection costs one part; on a resumed submission only the parts the store lacks are sent.

    transfer = MultipartTransfer(api, dataset_id=17, stored=frozenset({1, 2}), slots=slots)
    await transfer.send(session, file, target, progress=bar.advance, on_retry=note)

Part URLs are asked for in batches (`PART_URL_BATCH`) just before their parts are sent, so
none expires waiting in a queue; a URL the store refuses (403: expired) is asked for again,
once. The server joins the parts at `upload/complete`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from luna.client.api import LunaApi, MultipartPlan, PartTarget, UploadTarget
from luna.client.constants import DEFAULT_PARALLEL_UPLOADS, PART_URL_BATCH, UPLOAD_ATTEMPTS
from luna.client.errors import UploadFailed, UploadUrlRefused, first_failure
from luna.client.local_files import LocalFile
from luna.client.retry import OnRetry, retrying, transient_transfer_error
from luna.client.transfer import (
    check_unchanged,
    describe_transfer_error,
    put_body,
    read_chunks,
    slot,
)


class PartAttemptFailed(Exception):
    """What a retry note says about a part: its number, then why its attempt failed."""

    def __init__(self, part_number: int, cause: BaseException) -> None:
        super().__init__(f"part {part_number}: {describe_transfer_error(cause)}")
        self.part_number = part_number
        self.cause = cause


class _StaleUrl(Exception):
    """The store refused a part's URL once: most likely it expired; a fresh one may pass."""

    def __str__(self) -> str:
        return "the store refused its URL (403); asking for a fresh one"


def part_offset(plan: MultipartPlan, part_number: int) -> int:
    return (part_number - 1) * plan.part_size_bytes


def part_size(plan: MultipartPlan, part_number: int, *, size_bytes: int) -> int:
    """The planned length of part `part_number` of a `size_bytes` file."""
    return min(plan.part_size_bytes, size_bytes - part_offset(plan, part_number))


class _PartUrls:
    """URLs for the parts to send, asked for a batch at a time in the order parts are taken,
    each kept until its part is stored (a retry reuses it)."""

    def __init__(
        self,
        api: LunaApi,
        *,
        dataset_id: int,
        file: LocalFile,
        file_id: int,
        order: Sequence[int],
        batch: int,
    ) -> None:
        self._api = api
        self._filename = file.filename
        self._dataset_id = dataset_id
        self._file_id = file_id
        self._order = list(order)
        self._position = {number: index for index, number in enumerate(self._order)}
        self._batch = batch
        self._ready: dict[int, PartTarget] = {}
        self._done: set[int] = set()
        # One request at a time: workers waiting for the same batch get it from the first.
        self._lock = asyncio.Lock()

    async def get(self, number: int) -> PartTarget:
        async with self._lock:
            if number not in self._ready:
                start = self._position[number]
                wanted = [
                    n
                    for n in self._order[start : start + self._batch]
                    if n not in self._ready and n not in self._done
                ]
                for part in await self._api.part_urls(self._dataset_id, self._file_id, wanted):
                    self._ready[part.part_number] = part
            if number not in self._ready:
                raise UploadFailed(self._filename, "the server gave no URL for it")
            return self._ready[number]

    def stored(self, number: int) -> None:
        self._ready.pop(number, None)
        self._done.add(number)

    def forget(self, number: int) -> None:
        self._ready.pop(number, None)


@dataclass(frozen=True)
class MultipartTransfer:
    """A file in parts through `POST /upload/parts` URLs; `stored` parts are skipped.

    At most `parallel` parts of this file are in flight; `slots`, shared with every other
    transfer of the submission, bounds the PUTs of all files together."""

    api: LunaApi = field(compare=False)
    dataset_id: int
    stored: frozenset[int] = frozenset()
    parallel: int = DEFAULT_PARALLEL_UPLOADS
    slots: asyncio.Semaphore | None = field(default=None, compare=False)
    attempts: int = UPLOAD_ATTEMPTS
    batch: int = PART_URL_BATCH

    async def send(
        self,
        session: aiohttp.ClientSession,
        file: LocalFile,
        target: UploadTarget,
        *,
        progress: Callable[[int], None],
        on_retry: OnRetry | None = None,
    ) -> None:
        plan = target.multipart
        if plan is None:
            raise UploadFailed(file.filename, "the server planned no parts for this file")
        missing = [n for n in range(1, plan.parts + 1) if n not in self.stored]
        if not missing:
            return
        await check_unchanged(file)
        urls = _PartUrls(
            self.api,
            dataset_id=self.dataset_id,
            file=file,
            file_id=target.file_id,
            order=missing,
            batch=self.batch,
        )
        numbers = iter(missing)

        async def worker() -> None:
            for number in numbers:
                await self._send_part(
                    session, file, plan, number, urls=urls, progress=progress, on_retry=on_retry
                )
                urls.stored(number)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, min(self.parallel, len(missing)))):
                    group.create_task(worker())
        except ExceptionGroup as failures:
            raise first_failure(failures) from None

    async def _send_part(
        self,
        session: aiohttp.ClientSession,
        file: LocalFile,
        plan: MultipartPlan,
        number: int,
        *,
        urls: _PartUrls,
        progress: Callable[[int], None],
        on_retry: OnRetry | None,
    ) -> None:
        offset = part_offset(plan, number)
        refreshed = False

        async def attempt() -> None:
            nonlocal refreshed
            part = await urls.get(number)
            if part.size_bytes != part_size(plan, number, size_bytes=file.size_bytes):
                raise UploadFailed(
                    file.filename,
                    f"the server sized it as {part.size_bytes} bytes, which does not fit the "
                    f"file's plan ({plan.parts} parts of {plan.part_size_bytes} bytes)",
                )
            sent = 0

            def count(n_bytes: int) -> None:
                nonlocal sent
                sent += n_bytes
                progress(n_bytes)

            async with slot(self.slots):
                try:
                    await put_body(
                        session,
                        file,
                        method=part.method,
                        url=part.url,
                        headers=part.headers,
                        body=read_chunks(
                            file, on_bytes=count, offset=offset, length=part.size_bytes
                        ),
                        size_bytes=part.size_bytes,
                    )
                except UploadUrlRefused as exc:
                    progress(-sent)
                    if refreshed:
                        raise
                    refreshed = True
                    urls.forget(number)
                    raise _StaleUrl() from exc
                except BaseException:
                    progress(-sent)
                    raise

        def transient(exc: BaseException) -> bool:
            return isinstance(exc, _StaleUrl) or transient_transfer_error(exc)

        def note(attempt_number: int, exc: BaseException, delay_s: float) -> None:
            if on_retry is not None:
                on_retry(attempt_number, PartAttemptFailed(number, exc), delay_s)

        try:
            await retrying(attempt, is_transient=transient, attempts=self.attempts, on_retry=note)
        except _StaleUrl as exc:  # the last attempt was the refused one
            assert isinstance(exc.__cause__, UploadFailed)
            raise _about_part(exc.__cause__, number) from None
        except UploadFailed as exc:
            raise _about_part(exc, number) from exc
        except Exception as exc:
            if not transient_transfer_error(exc):
                raise
            raise UploadFailed(
                file.filename,
                f"part {number}: gave up after {self.attempts} attempts; the last one failed "
                f"with: {describe_transfer_error(exc)}",
            ) from exc


def _about_part(exc: UploadFailed, number: int) -> UploadFailed:
    """The same failure, naming the part."""
    return type(exc)(exc.filename, f"part {number}: {exc.reason}")

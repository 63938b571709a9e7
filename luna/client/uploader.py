"""Uploading a dataset's files in parallel, each by the transfer its file calls for.

    slots = asyncio.Semaphore(4)
    choose = choose_transfer(api, dataset_id=plan.dataset_id, stored=stored_parts,
                             parallel=4, slots=slots)
    await upload_files(session, plan, files, parallel=4, progress=bar.advance,
                       choose_transfer=choose)

`choose_transfer` sends a file planned as multipart in parts (`MultipartTransfer`, skipping
the parts already stored) and every other file in one PUT (`SinglePut`). The first file that
cannot be stored (retries spent, URL refused) stops the others: the dataset is incomplete
anyway, and the user needs that one reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

import aiohttp

from luna.client.api import LunaApi, UploadPlan, UploadTarget
from luna.client.errors import UploadFailed, first_failure
from luna.client.local_files import LocalFile
from luna.client.multipart import MultipartTransfer
from luna.client.retry import OnRetry
from luna.client.transfer import FileTransfer, SinglePut

__all__ = [
    "ChooseTransfer",
    "choose_transfer",
    "first_failure",
    "single_put_for_all",
    "upload_files",
]

ChooseTransfer = Callable[[LocalFile, UploadTarget], FileTransfer]


def choose_transfer(
    api: LunaApi,
    *,
    dataset_id: int,
    stored: Mapping[int, frozenset[int]] | None = None,
    parallel: int,
    slots: asyncio.Semaphore | None = None,
) -> ChooseTransfer:
    """The submission's chooser: parts for files with a multipart plan (minus `stored`, the
    part numbers already in the store by file_id), one PUT for the rest. `slots` bounds the
    PUTs in flight across all files, whole or in parts."""
    already = stored or {}

    def choose(file: LocalFile, target: UploadTarget) -> FileTransfer:
        if target.multipart is not None:
            return MultipartTransfer(
                api,
                dataset_id=dataset_id,
                stored=already.get(target.file_id, frozenset()),
                parallel=parallel,
                slots=slots,
            )
        return single_put_for_all(file, target, slots=slots)

    return choose


def single_put_for_all(
    file: LocalFile, target: UploadTarget, *, slots: asyncio.Semaphore | None = None
) -> FileTransfer:
    """Every file in one PUT, `target.multipart` files too while their single URL is
    offered (what a client that knows nothing of parts does)."""
    if target.url is None:
        raise UploadFailed(
            file.filename,
            f"{file.size_bytes} bytes is over the store's single-upload limit and the server "
            "planned no parts for it",
        )
    return SinglePut(slots=slots)


async def upload_files(
    session: aiohttp.ClientSession,
    plan: UploadPlan,
    files: Sequence[LocalFile],
    *,
    parallel: int,
    progress: Callable[[int], None],
    on_file_done: Callable[[LocalFile], None] | None = None,
    on_retry: Callable[[LocalFile, int, BaseException, float], None] | None = None,
    choose_transfer: ChooseTransfer = single_put_for_all,
) -> None:
    by_name = {f.filename: f for f in files}
    missing = [t.filename for t in plan.targets if t.filename not in by_name]
    if missing:
        raise UploadFailed(missing[0], "the server issued a URL for a file that is not on disk")
    # Every transfer is chosen before a byte is sent: a file no transfer can take stops the
    # submission now, not after an hour of uploading the others.
    transfers = {t.filename: choose_transfer(by_name[t.filename], t) for t in plan.targets}
    # Largest first: the long transfers start early and the tail is made of short ones.
    work = sorted(plan.targets, key=lambda t: by_name[t.filename].size_bytes, reverse=True)
    queue: asyncio.Queue[UploadTarget] = asyncio.Queue()
    for target in work:
        queue.put_nowait(target)

    async def worker() -> None:
        while not queue.empty():
            target = queue.get_nowait()
            file = by_name[target.filename]
            retry_note: OnRetry | None = None
            if on_retry is not None:
                retry_note = _bind(on_retry, file)
            await transfers[target.filename].send(
                session, file, target, progress=progress, on_retry=retry_note
            )
            if on_file_done is not None:
                on_file_done(file)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(parallel, len(work)))):
                group.create_task(worker())
    except ExceptionGroup as failures:
        raise first_failure(failures) from None


def _bind(
    on_retry: Callable[[LocalFile, int, BaseException, float], None], file: LocalFile
) -> OnRetry:
    def note(attempt: int, exc: BaseException, delay_s: float) -> None:
        on_retry(file, attempt, exc, delay_s)

    return note

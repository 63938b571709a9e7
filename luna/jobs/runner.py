"""One validation job, start to finish: claim it, stream every file through the pure
validation code off the event loop, write progress, and commit the results at once.

    handler = ValidationJobRunner(db=pool, store=store, metrics=metrics, worker="pod-1")
    await handler(job_id)   # returns once the outcome is committed; raises Retry to run again

A job runs at most MAX_JOB_ATTEMPTS times; after that it is `failed` with the last reason, so
nothing stays pending forever. A settled job is skipped, so a duplicate message is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg

from luna import constants
from luna.db import queries
from luna.errors import BackendUnavailable, NotFound, ObjectChanged, Retry
from luna.jobs.heartbeat import heartbeat
from luna.observability import Metrics, log_context
from luna.storage.base import ObjectStore
from luna.tasks import StopDecision, task_group
from luna.validation import (
    DeclaredFile,
    FileInspector,
    FileReport,
    judge_dataset,
    missing_file_report,
)
from luna.validation.ruleset import MANIFEST_SPARE_ROWS

log = logging.getLogger("luna.jobs")
T = TypeVar("T")


def _lower_thread_priority() -> None:
    """Run this validation thread at a lower CPU priority than the event loop's thread, so
    probes and API requests are scheduled first when decoding keeps every core busy (on Linux
    a thread's nice value is its own)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), constants.VALIDATION_NICE)


@contextlib.contextmanager
def validation_threads(*, validators: int) -> Iterator[ThreadPoolExecutor]:
    """The threads that hash and decode, sized for every file in flight, at low priority."""
    executor = ThreadPoolExecutor(
        max_workers=max(1, validators * constants.FILES_IN_FLIGHT),
        thread_name_prefix="luna-validate",
        initializer=_lower_thread_priority,
    )
    try:
        yield executor
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def file_report_row(file_id: int, report: FileReport) -> queries.FileReportRow:
    """What is stored of one file's inspection."""
    return queries.FileReportRow(
        file_id=file_id,
        present=report.present,
        size_bytes=report.size_bytes,
        sha256=report.sha256,
        format=report.format,
        width=report.width,
        height=report.height,
        dicom_patient_id=report.dicom_patient_id,
        findings=[f.as_dict() for f in report.findings],
    )


class ValidationJobRunner:
    def __init__(
        self,
        *,
        db: asyncpg.Pool,
        store: ObjectStore,
        metrics: Metrics,
        worker: str,
        threads: Executor | None = None,
        stop: StopDecision | None = None,
        retry_delay_s: float = constants.JOB_RETRY_DELAY_S,
        heartbeat_interval_s: float = constants.HEARTBEAT_INTERVAL_S,
    ) -> None:
        self.db = db
        self.store = store
        self.metrics = metrics
        self.worker = worker
        self.threads = threads
        # The pool's decision to shut down: tells a cancellation a library turned into its own
        # error from a real failure (which would cost the job an attempt).
        self.stop = stop or StopDecision()
        self.retry_delay_s = retry_delay_s
        self.heartbeat_interval_s = heartbeat_interval_s

    async def _off_loop(self, function: Callable[..., T], *args: Any) -> T:
        """Run CPU work in the validation threads, away from the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.threads, function, *args)

    async def __call__(self, job_id: int) -> None:
        with log_context(job_id=job_id, dataset_id=job_id):
            async with self.db.acquire() as conn:
                attempt = await queries.claim_job(conn, job_id, worker=self.worker)
            if attempt is None:
                log.info("job already settled or unknown; skipping the message")
                return
            if attempt > constants.MAX_JOB_ATTEMPTS:
                await self._give_up(
                    job_id, f"validation was attempted {attempt - 1} times and never finished"
                )
                return
            started = time.perf_counter()
            try:
                async with heartbeat(self.db, job_id, interval_s=self.heartbeat_interval_s):
                    verdict = await self._validate(job_id, attempt=attempt)
            except BackendUnavailable as exc:
                reason = f"storage unreachable: {exc.detail}"
                await self._retry_or_fail(job_id, attempt=attempt, reason=reason)
                return
            except ObjectChanged as exc:
                # Another attempt would read the same changed object: fail now, saying why.
                filename = exc.key.split("/", 2)[-1]
                await self._give_up(
                    job_id,
                    f"{filename} changed in storage after upload/complete (its ETag then was "
                    f"{exc.recorded_etag}): the dataset cannot be validated as it was handed "
                    "over; start a new upload",
                )
                return
            except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError) as exc:
                # The database blinked: the job row says processing; the message comes back.
                raise Retry(f"database unavailable: {exc!r}", delay_s=self.retry_delay_s) from exc
            except Exception as exc:
                if self.stop.decided:
                    raise asyncio.CancelledError from exc  # shutting down, not a crash
                log.exception("validation crashed")
                await self._retry_or_fail(
                    job_id, attempt=attempt, reason=f"validation crashed: {exc!r}"
                )
                return
            self.metrics.validation_duration.observe(
                {"verdict": verdict}, time.perf_counter() - started
            )

    async def _retry_or_fail(self, job_id: int, *, attempt: int, reason: str) -> None:
        if attempt >= constants.MAX_JOB_ATTEMPTS:
            await self._give_up(job_id, f"{reason} (after {attempt} attempts)")
            return
        await queries.add_log(
            self.db, job_id, level="WARNING", message=f"attempt {attempt}: {reason}; retrying"
        )
        # Doubling: an outage that outlasts one retry delay likely lasts a while longer.
        delay_s = min(constants.JOB_RETRY_DELAY_MAX_S, self.retry_delay_s * 2 ** (attempt - 1))
        raise Retry(reason, delay_s=delay_s)

    async def _give_up(self, job_id: int, reason: str) -> None:
        async with self.db.acquire() as conn:
            await queries.fail_job(conn, job_id, reason=reason)
        self.metrics.validation_duration.observe({"verdict": "failed"}, 0.0)
        log.error("validation failed: %s", reason)

    async def _validate(self, job_id: int, *, attempt: int) -> str:
        rows = await queries.fetch_declared_files(self.db, job_id)
        await queries.add_log(
            self.db,
            job_id,
            level="INFO",
            message=f"validation started (attempt {attempt}): {len(rows)} files",
        )
        declared = [
            DeclaredFile(
                file_id=r["file_id"],
                filename=r["filename"],
                content_type=r["content_type"],
                size_bytes=r["size_bytes"],
                sha256=r["sha256"],
            )
            for r in rows
        ]
        # Read exactly the versions `upload/complete` recorded: an object absent then stays
        # missing, one replaced since fails the job (ObjectChanged) rather than be judged.
        recorded = await queries.objects_recorded(self.db, job_id)
        keys = [r["s3_key"] for r in rows]
        etags = [r["etag"] for r in rows] if recorded else [None] * len(rows)
        absent = {r["s3_key"] for r in rows if recorded and r["etag"] is None}
        reports = await self._inspect_all(job_id, declared, keys, etags, absent)
        results = await self._off_loop(judge_dataset, declared, reports)
        summary = results.stored(findings_per_rule=constants.FINDINGS_PER_RULE_IN_STATUS)
        files = [file_report_row(d.file_id, r) for d, r in zip(declared, reports, strict=True)]
        findings = [(f.rule, f.severity, f.file, f.row, f.message) for f in results.findings]
        message = (
            f"validation finished: {results.verdict} "
            f"({results.errors} errors, {results.warnings} warnings)"
        )
        async with self.db.acquire() as conn:
            committed = await queries.complete_job(
                conn,
                job_id,
                results=summary,
                findings=findings,
                log_message=message,
                files=files,
            )
        log.info(message if committed else "another attempt committed first; result dropped")
        return results.verdict

    async def _inspect_all(
        self,
        job_id: int,
        declared: list[DeclaredFile],
        keys: list[str],
        etags: list[str | None],
        absent: set[str],
    ) -> list[FileReport]:
        reports: list[FileReport | None] = [None] * len(declared)
        pending = iter(range(len(declared)))
        done = 0
        last_progress = time.monotonic()

        async def inspect_until_none_left() -> None:
            nonlocal done, last_progress
            for index in pending:
                if keys[index] in absent:
                    reports[index] = missing_file_report(declared[index])
                else:
                    reports[index] = await self._inspect_one(
                        declared[index], keys[index], etags[index], dataset_files=len(declared)
                    )
                done += 1
                now = time.monotonic()
                if now - last_progress >= constants.PROGRESS_INTERVAL_S or done == len(declared):
                    last_progress = now
                    # Shielded: a sibling's failure must not cut a write off mid-query.
                    await asyncio.shield(queries.record_progress(self.db, job_id, files_done=done))

        try:
            # luna's task_group: on CPython 3.11 a plain TaskGroup that ends with a child's
            # error leaves this task looking cancelled.
            async with task_group() as group:
                for _ in range(min(constants.FILES_IN_FLIGHT, len(declared))):
                    group.create_task(inspect_until_none_left())
        except ExceptionGroup as failed:
            # The first failure decides the outcome (storage, database or a bug), as if the
            # files had been inspected one at a time.
            raise failed.exceptions[0] from None
        return [r for r in reports if r is not None]

    async def _inspect_one(
        self, declared: DeclaredFile, key: str, etag: str | None, *, dataset_files: int
    ) -> FileReport:
        # One request per file: reading an absent object answers NotFound, so no HEAD first.
        size_bytes = 0
        # A manifest may not list many more rows than the dataset has files: past that it
        # is refused as it streams, so a million-row manifest costs no million rows.
        max_rows = dataset_files + MANIFEST_SPARE_ROWS
        with FileInspector(declared, manifest_max_rows=max_rows) as inspector:
            try:
                chunks = self.store.stream(
                    key, chunk_bytes=constants.STREAM_CHUNK_BYTES, if_match=etag
                )
                async for chunk in chunks:
                    size_bytes += len(chunk)
                    await self._off_loop(inspector.feed, chunk)
            except NotFound:
                return missing_file_report(declared)
            self.metrics.s3_uploads.inc({})
            self.metrics.s3_upload_bytes.add({}, size_bytes)
            return await self._off_loop(inspector.finish)

"""One validation job, start to finish: claim it, stream every file through the pure
validation code off the event loop, write progress, and commit the results at once.

    handler = ValidationJobRunner(db=pool, store=store, metrics=metrics, worker="pod-1")
    await handler(job_id)   # returns once the outcome is committed; raises Retry to run again

A job runs at most MAX_JOB_ATTEMPTS times; after that it is `failed` with the last reason, so
nothing stays pending forever. A settled job is skipped, so a duplicate message is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg

from luna import constants
from luna.db import queries
from luna.errors import BackendUnavailable, NotFound, Retry
from luna.observability import Metrics, log_context
from luna.storage.base import ObjectStore
from luna.validation import (
    DeclaredFile,
    FileInspector,
    FileReport,
    judge_dataset,
    missing_file_report,
)

log = logging.getLogger("luna.validation")


class ValidationJobRunner:
    def __init__(
        self, *, db: asyncpg.Pool, store: ObjectStore, metrics: Metrics, worker: str
    ) -> None:
        self.db = db
        self.store = store
        self.metrics = metrics
        self.worker = worker

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
                verdict = await self._validate(job_id, attempt=attempt)
            except BackendUnavailable as exc:
                reason = f"storage unreachable: {exc.detail}"
                await self._retry_or_fail(job_id, attempt=attempt, reason=reason)
                return
            except (asyncpg.PostgresConnectionError, OSError) as exc:
                # The database blinked: the job row says processing; the message comes back.
                raise Retry(
                    f"database unavailable: {exc!r}", delay_s=constants.JOB_RETRY_DELAY_S
                ) from exc
            except Exception as exc:
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
        raise Retry(reason, delay_s=constants.JOB_RETRY_DELAY_S)

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
        reports = await self._inspect_all(job_id, declared, [r["s3_key"] for r in rows])
        results = await asyncio.to_thread(judge_dataset, declared, reports)
        summary: dict[str, Any] = results.as_dict(findings=[])
        del summary["findings"]
        findings = [(f.rule, f.severity, f.file, f.row, f.message) for f in results.findings]
        message = (
            f"validation finished: {results.verdict} "
            f"({results.errors} errors, {results.warnings} warnings)"
        )
        async with self.db.acquire() as conn:
            committed = await queries.complete_job(
                conn, job_id, results=summary, findings=findings, log_message=message
            )
        log.info(message if committed else "another attempt committed first; result dropped")
        return results.verdict

    async def _inspect_all(
        self, job_id: int, declared: list[DeclaredFile], keys: list[str]
    ) -> list[FileReport]:
        reports: list[FileReport | None] = [None] * len(declared)
        pending = iter(range(len(declared)))
        done = 0
        last_progress = time.monotonic()

        async def inspect_until_none_left() -> None:
            nonlocal done, last_progress
            for index in pending:
                reports[index] = await self._inspect_one(declared[index], keys[index])
                done += 1
                now = time.monotonic()
                if now - last_progress >= constants.PROGRESS_INTERVAL_S or done == len(declared):
                    last_progress = now
                    await queries.record_progress(self.db, job_id, files_done=done)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(constants.FILES_IN_FLIGHT, len(declared))):
                group.create_task(inspect_until_none_left())
        return [r for r in reports if r is not None]

    async def _inspect_one(self, declared: DeclaredFile, key: str) -> FileReport:
        info = await self.store.head(key)
        if info is None:
            return missing_file_report(declared)
        self.metrics.s3_uploads.inc({})
        self.metrics.s3_upload_bytes.add({}, info.size_bytes)
        with FileInspector(declared) as inspector:
            try:
                async for chunk in self.store.stream(key, chunk_bytes=constants.STREAM_CHUNK_BYTES):
                    await asyncio.to_thread(inspector.feed, chunk)
            except NotFound:
                # Deleted between the look and the read: as good as never uploaded.
                return missing_file_report(declared)
            return await asyncio.to_thread(inspector.finish)

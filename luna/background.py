"""Periodic chores every luna process runs (refreshing gauges, sweeping abandoned uploads),
and `every`, which runs a chore until its owner decides to stop. The job sweep lives with
the job's life, in `luna.jobs.sweeps`.

Each chore catches and logs its own failures, so a database blip skips one round instead of
killing the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from luna import constants
from luna.db import queries
from luna.observability import Metrics
from luna.queue.base import JobQueue
from luna.storage.base import ObjectStore
from luna.tasks import StopDecision

log = logging.getLogger("luna.background")


async def every(
    interval_s: float, chore: Callable[[], Awaitable[None]], *, name: str, stop: StopDecision
) -> None:
    """Run `chore` `interval_s` apart until `stop` is decided; failures are logged, never
    raised. The owner decides `stop` before cancelling, so a cancellation a client library
    turned into its own error (or lost, as 3.11's wait_for can) still ends the loop."""
    while not stop.decided:
        try:
            await chore()
        except Exception as exc:
            if stop.decided:
                return
            log.warning("%s failed this round: %r", name, exc)
        await asyncio.sleep(interval_s)


async def refresh_gauges(db: asyncpg.Pool | None, queue: JobQueue, metrics: Metrics) -> None:
    metrics.queue_length.set({}, await queue.length())
    if db is not None:
        metrics.concurrent_uploads.set({}, await queries.count_uploading(db))
        metrics.oldest_job_age.set({}, await queries.oldest_unsettled_age_s(db))


async def sweep_abandoned_uploads(
    db: asyncpg.Pool, store: ObjectStore, *, older_than_s: float
) -> None:
    """Datasets never completed within `older_than_s`: drop their open multipart uploads and
    stored objects, then mark them abandoned, all while holding the dataset row (a late
    `complete` waits, then finds it abandoned). A store failure leaves it for the next round."""
    for dataset_id in await queries.find_abandoned(
        db, older_than_s=older_than_s, limit=constants.SWEEP_BATCH
    ):
        async with db.acquire() as conn, conn.transaction():
            if not await queries.try_completion_lock(conn, dataset_id):
                continue  # being completed right now
            if not await queries.lock_uploading_dataset(conn, dataset_id):
                continue  # completed meanwhile
            for f in await queries.fetch_stored_files(conn, dataset_id):
                if f["multipart_state"] == "uploading":
                    await store.abort_multipart(f["s3_key"], upload_id=f["multipart_upload_id"])
                await store.delete(f["s3_key"])
            await queries.abandon_dataset(conn, dataset_id)
        log.info("dataset %d was never completed; abandoned and its files removed", dataset_id)

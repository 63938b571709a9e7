"""Periodic chores every luna process runs: republishing lost jobs, refreshing gauges.

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
from luna.errors import BackendUnavailable
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


async def republish_lost_jobs(
    db: asyncpg.Pool,
    queue: JobQueue,
    *,
    everything: bool = False,
    stale_heartbeat_s: float = constants.HEARTBEAT_STALE_S,
) -> None:
    """Publish jobs whose message was never confirmed or seems lost (a settled job is skipped
    by the validator, so a spare message costs nothing); `everything`: all unsettled jobs."""
    if everything:
        job_ids = await queries.unsettled_jobs(db)
    else:
        job_ids = await queries.jobs_to_republish(
            db,
            unconfirmed_after_s=constants.UNCONFIRMED_PUBLISH_AFTER_S,
            silent_after_s=constants.REPUBLISH_AFTER_S,
            stale_heartbeat_s=stale_heartbeat_s,
        )
    for job_id in job_ids:
        try:
            await queue.publish(job_id)
        except BackendUnavailable as exc:
            log.warning("republishing job %d failed: %s", job_id, exc)
            return
        await queries.mark_published(db, job_id)
        log.info("republished job %d", job_id)


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

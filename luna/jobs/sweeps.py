"""The job sweep: every unsettled job keeps a message somewhere.

    await republish_lost_jobs(db, queue)                   # every RECONCILE_INTERVAL_S
    await republish_lost_jobs(db, queue, everything=True)  # an embedded queue, at start

A job committed but never confirmed as published, one pending too long, or one processing
with a stale heartbeat (its validator died or its message was lost, whatever the broker
holds) is published again. A spare message is harmless: a settled job is skipped, and a
claim counts an attempt, so a job that keeps losing its validator still ends `failed`.
"""

from __future__ import annotations

import logging

import asyncpg

from luna import constants
from luna.db import queries
from luna.errors import BackendUnavailable
from luna.queue.base import JobQueue

log = logging.getLogger("luna.jobs")


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

"""A processing job's heartbeat: its validator marks it alive while it works on it.

    async with heartbeat(db, job_id, interval_s=10):
        ...   # validate; the row's heartbeat_at moves every interval_s meanwhile

The sweep (`sweeps.republish_lost_jobs`) re-queues a processing job whose heartbeat went
stale, whatever the broker holds, so a job whose validator died (or whose message was lost)
still reaches an end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from luna.db import queries
from luna.tasks import StopDecision, task_group

log = logging.getLogger("luna.jobs")


@asynccontextmanager
async def heartbeat(db: asyncpg.Pool, job_id: int, *, interval_s: float) -> AsyncIterator[None]:
    """Write the job's heartbeat every `interval_s` while the block runs, even while one large
    file streams; a failed write is logged (the block's own queries report the database)."""
    done = StopDecision()

    async def beat() -> None:
        while not done.decided:
            await asyncio.sleep(interval_s)
            try:
                await queries.touch_job(db, job_id)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("heartbeat not written: %r", exc)

    try:
        async with task_group() as group:
            beating = group.create_task(beat())
            try:
                yield
            finally:
                done.decide()
                beating.cancel()
    except BaseExceptionGroup as failed:
        # The beat never raises: this is the block's own error, which a TaskGroup wraps.
        raise failed.exceptions[0] from None

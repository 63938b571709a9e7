"""Job events across replicas: PostgreSQL NOTIFY on progress and completion, LISTENed by one
connection per process and fanned out to whoever waits for that job.

    async with job_events(database_url) as events:
        await events.wait(job_id, timeout_s=2.0)   # True when something happened to the job

Waiters re-read the job row after each wake, so a notification lost while the listener
reconnects only delays an update until the next timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from luna.db.listen import listening
from luna.db.queries import JOB_EVENTS_CHANNEL

log = logging.getLogger("luna.events")


class JobEvents:
    def __init__(self) -> None:
        self._waiters: defaultdict[int, set[asyncio.Event]] = defaultdict(set)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            job_id = int(payload)
        except ValueError:
            return
        for event in self._waiters.get(job_id, ()):
            event.set()

    async def wait(self, job_id: int, *, timeout_s: float) -> bool:
        """Wait until the job changes or `timeout_s` passes; True when it changed."""
        event = asyncio.Event()
        self._waiters[job_id].add(event)
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters[job_id].discard(event)
            if not self._waiters[job_id]:
                del self._waiters[job_id]

    def _wake_all(self) -> None:
        # Anything may have happened while nobody listened.
        for events in list(self._waiters.values()):
            for event in events:
                event.set()


@asynccontextmanager
async def job_events(database_url: str) -> AsyncIterator[JobEvents]:
    events = JobEvents()
    async with listening(
        database_url,
        JOB_EVENTS_CHANNEL,
        events._on_notify,
        name="event listener",
        on_connected=events._wake_all,
    ):
        yield events

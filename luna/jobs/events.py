"""Job events across replicas: PostgreSQL NOTIFY on progress and completion, LISTENed by one
connection per process and fanned out to whoever waits for that job.

    async with job_events(database_url) as events:
        await events.wait(job_id, timeout_s=2.0)   # True when something happened to the job

Waiters re-read the job row after each wake, so a notification lost while the listener
reconnects only delays an update until the next timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from luna.db.queries import JOB_EVENTS_CHANNEL
from luna.tasks import StopDecision, cancel_until_done

log = logging.getLogger("luna.events")

# How long to wait before reconnecting the listener after the database went away.
_RECONNECT_DELAY_S = 1.0


class JobEvents:
    def __init__(self) -> None:
        self._waiters: defaultdict[int, set[asyncio.Event]] = defaultdict(set)
        self.stop = StopDecision()  # decided by `job_events` when its block ends

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

    async def listen(self, database_url: str) -> None:
        """Hold a LISTEN connection until `stop` is decided, reconnecting after failures."""
        while not self.stop.decided:
            try:
                conn = await asyncpg.connect(database_url)
            except (OSError, asyncpg.PostgresError) as exc:
                if self.stop.decided:
                    return  # asyncpg turned our cancellation into a connection error
                log.warning("event listener cannot connect: %r", exc)
                await asyncio.sleep(_RECONNECT_DELAY_S)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
            try:
                await conn.add_listener(JOB_EVENTS_CHANNEL, self._on_notify)
                # Wake everyone: anything may have happened while not listening.
                for events in list(self._waiters.values()):
                    for event in events:
                        event.set()
                await lost.wait()
                log.warning("event listener lost its connection; reconnecting")
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
            await asyncio.sleep(_RECONNECT_DELAY_S)


@asynccontextmanager
async def job_events(database_url: str) -> AsyncIterator[JobEvents]:
    events = JobEvents()
    async with asyncio.TaskGroup() as group:
        listener = group.create_task(events.listen(database_url))
        try:
            yield events
        finally:
            events.stop.decide()
            await cancel_until_done(listener)

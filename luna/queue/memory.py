"""The embedded job queue: the `JobQueue` interface inside one process, for running luna
with no broker at all (a laptop, a single-replica demo, tests).

    async with memory_queue() as queue:
        await queue.publish(7)

It behaves like the RabbitMQ queue where luna can tell: retries wait their delay, rejected
messages are kept aside (`dead_length`), and deliveries a consumer left unsettled come back
marked `redelivered`. It is not durable: jobs queued when the process stops are gone, and the
job reconciler republishes them from the database on the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from luna.errors import BackendUnavailable

log = logging.getLogger("luna.queue")


@dataclass(frozen=True)
class DeadLetter:
    """A rejected job, kept for inspection as RabbitMQ keeps it in `<queue>.dead`."""

    job_id: int
    reason: str


class _Changes:
    """Wakes everyone waiting for the queue's state to change (callable from sync code, which
    the retry timers are)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def announce(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await self._event.wait()


class MemoryJobQueue:
    """`JobQueue` held in this process's memory."""

    kind = "embedded"

    def __init__(self) -> None:
        self._ready: deque[tuple[int, bool]] = deque()  # (job_id, redelivered)
        self._dead: list[DeadLetter] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self.changes = _Changes()

    async def publish(self, job_id: int) -> None:
        self._append(job_id)

    def consume(self, *, prefetch: int) -> MemoryDeliveries:
        return MemoryDeliveries(self, prefetch=prefetch)

    async def length(self) -> int:
        return len(self._ready)

    async def dead_length(self) -> int:
        """Rejected messages kept aside."""
        return len(self._dead)

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return list(self._dead)

    async def ping(self) -> None:
        return None

    def _append(self, job_id: int, *, redelivered: bool = False) -> None:
        self._ready.append((job_id, redelivered))
        self.changes.announce()

    def _give_back(self, job_ids: list[int]) -> None:
        # In front, in their original order: they were first in line once already.
        self._ready.extendleft((job_id, True) for job_id in reversed(job_ids))
        self.changes.announce()

    def _take(self) -> tuple[int, bool]:
        return self._ready.popleft()

    def _publish_later(self, job_id: int, *, delay_s: float) -> None:
        def due() -> None:
            self._timers.discard(handle)
            self._append(job_id)

        handle = asyncio.get_running_loop().call_later(max(delay_s, 0.0), due)
        self._timers.add(handle)

    def _kill(self, job_id: int, reason: str) -> None:
        self._dead.append(DeadLetter(job_id, reason))

    def _cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()


class MemoryDelivery:
    """One delivery of the embedded queue; settles at most once, while its consumer is open."""

    def __init__(self, owner: MemoryDeliveries, job_id: int, *, redelivered: bool) -> None:
        self._owner = owner
        self.job_id: int | None = job_id
        self.redelivered = redelivered
        self._settled = False

    async def ack(self) -> None:
        self._settle()

    async def retry(self, *, delay_s: float) -> None:
        job_id = self._settle()
        self._owner.queue._publish_later(job_id, delay_s=delay_s)

    async def reject(self, reason: str) -> None:
        job_id = self._settle()
        log.warning("job %d rejected: %s", job_id, reason)
        self._owner.queue._kill(job_id, reason)

    def _settle(self) -> int:
        if self._settled:
            raise RuntimeError(f"delivery of job {self.job_id} is already settled")
        if self._owner.closed:
            raise BackendUnavailable("broker", "the consumer closed; the job was given back")
        self._settled = True
        self._owner.settled(self)
        assert self.job_id is not None  # the embedded queue only carries job ids
        return self.job_id


class MemoryDeliveries:
    """One consumer of the embedded queue (see `Deliveries`)."""

    def __init__(self, queue: MemoryJobQueue, *, prefetch: int) -> None:
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        self.queue = queue
        self._prefetch = prefetch
        self._unsettled: list[MemoryDelivery] = []
        self._stopped = False
        self.closed = False

    def __aiter__(self) -> MemoryDeliveries:
        return self

    async def __anext__(self) -> MemoryDelivery:
        def can_take() -> bool:
            return self._stopped or (
                bool(self.queue._ready) and len(self._unsettled) < self._prefetch
            )

        await self.queue.changes.wait_until(can_take)
        if self._stopped:
            raise StopAsyncIteration
        job_id, redelivered = self.queue._take()
        delivery = MemoryDelivery(self, job_id, redelivered=redelivered)
        self._unsettled.append(delivery)
        return delivery

    def settled(self, delivery: MemoryDelivery) -> None:
        self._unsettled.remove(delivery)
        self.queue.changes.announce()

    async def stop(self) -> None:
        self._stopped = True
        self.queue.changes.announce()

    async def close(self) -> None:
        await self.stop()
        if self.closed:
            return
        self.closed = True
        given_back = [d.job_id for d in self._unsettled if d.job_id is not None]
        self._unsettled.clear()
        if given_back:
            self.queue._give_back(given_back)

    async def __aenter__(self) -> MemoryDeliveries:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


@asynccontextmanager
async def memory_queue() -> AsyncIterator[MemoryJobQueue]:
    """An embedded queue for the block; pending retry timers are dropped at the end."""
    queue = MemoryJobQueue()
    try:
        yield queue
    finally:
        queue._cancel_timers()

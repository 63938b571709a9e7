"""The job queue as luna sees it: publish a job id, consume deliveries, settle each once.

    await queue.publish(job_id)                    # returns once the broker confirmed it
    async for delivery in queue.consume(prefetch=4):
        ...; await delivery.ack()                  # or .retry(delay_s=5) / .reject(reason)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class Delivery(Protocol):
    """One received job message; exactly one of ack, retry or reject settles it."""

    job_id: int | None  # None when the body is not a job message (it is rejected)
    redelivered: bool

    async def ack(self) -> None:
        """The job's outcome is committed; forget the message."""

    async def retry(self, *, delay_s: float) -> None:
        """Deliver the job again after `delay_s` (to any consumer)."""

    async def reject(self, reason: str) -> None:
        """Never deliver this message again; it is kept aside for inspection."""


class JobQueue(Protocol):
    kind: str  # "rabbitmq" or "embedded", reported by /health

    async def publish(self, job_id: int) -> None:
        """Queue a job; returns once the broker has it durably (raises BackendUnavailable)."""

    def consume(self, *, prefetch: int) -> AsyncIterator[Delivery]:
        """Deliveries, at most `prefetch` unsettled at a time."""
        ...

    async def length(self) -> int:
        """Jobs waiting to be delivered."""
        ...

    async def ping(self) -> None:
        """Raise `BackendUnavailable` unless the broker answers."""

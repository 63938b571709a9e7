"""The job queue as luna sees it: publish a job id, consume deliveries, settle each once.

    await queue.publish(job_id)                        # returns once the broker confirmed it
    async with queue.consume(prefetch=4) as deliveries:
        async for delivery in deliveries:
            ...; await delivery.ack()                  # or .retry(delay_s=5) / .reject(reason)

Leaving the `consume` block gives every delivery not yet settled back to the queue, where it
is delivered again with `redelivered=True`.
"""

from __future__ import annotations

from typing import Protocol


class Delivery(Protocol):
    """One received job message; exactly one of ack, retry or reject settles it.

    Settling twice raises `RuntimeError`. Settling fails with `BackendUnavailable` when the
    broker connection was lost since the delivery; the broker then delivers it again anyway.
    """

    job_id: int | None  # None when the body is not a job message (it is rejected)
    redelivered: bool

    async def ack(self) -> None:
        """The job's outcome is committed; forget the message."""

    async def retry(self, *, delay_s: float) -> None:
        """Deliver the job again after `delay_s` (to any consumer)."""

    async def reject(self, reason: str) -> None:
        """Never deliver this message again; it is kept aside for inspection."""


class Deliveries(Protocol):
    """One consumer's deliveries, at most `prefetch` of them unsettled at a time.

    Cancelling a pending `__anext__` loses nothing, so an actor may wait on it and be stopped.
    """

    def __aiter__(self) -> Deliveries: ...

    async def __anext__(self) -> Delivery: ...

    async def stop(self) -> None:
        """Take no new deliveries (buffered ones go back); those taken can still be settled."""

    async def close(self) -> None:
        """Stop, and give every unsettled delivery back to the queue (marked redelivered)."""

    async def __aenter__(self) -> Deliveries: ...

    async def __aexit__(self, *exc_info: object) -> None:
        """Close."""


class JobQueue(Protocol):
    kind: str  # "rabbitmq" or "embedded", reported by /health

    async def publish(self, job_id: int) -> None:
        """Queue a job; returns once the broker has it durably (raises BackendUnavailable)."""

    def consume(self, *, prefetch: int) -> Deliveries:
        """Deliveries, at most `prefetch` unsettled at a time; use it as `async with`."""
        ...

    async def length(self) -> int:
        """Jobs waiting to be delivered."""
        ...

    async def ping(self) -> None:
        """Raise `BackendUnavailable` unless the broker answers."""

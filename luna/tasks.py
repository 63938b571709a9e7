"""Tasks that stop when told to, and only then.

Stopping is a decision: whoever decides it (the pool on SIGTERM, a supervisor stopping a child,
a chore's owner) records it in a `StopDecision` before cancelling anything, and code that
must tell a stop from a fault reads that decision. It never infers a stop from
`Task.cancelling()`: CPython 3.11 (and 3.12.1) leave that count at 1 after a `TaskGroup` whose
child failed while the parent waited in `__aexit__`, so a task that merely handled its
children's errors would look as if it were being shut down.

    stop = StopDecision()
    ...                                   # workers check `stop.decided` where a library may
    stop.decide()                         # have turned a cancellation into its own error
    await cancel_until_done(task)         # re-sent if a library swallowed it
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# How long an owner waits for a cancelled task before cancelling it again: a client library
# may swallow one cancellation while tearing a connection down.
RECANCEL_AFTER_S = 1.0


class StopDecision:
    """A stop decided once by its owner; anyone may read it."""

    def __init__(self) -> None:
        self._decided = asyncio.Event()

    @property
    def decided(self) -> bool:
        return self._decided.is_set()

    def decide(self) -> None:
        self._decided.set()

    async def wait(self) -> None:
        await self._decided.wait()


async def cancel_until_done(
    task: asyncio.Task[object], *, every_s: float = RECANCEL_AFTER_S
) -> None:
    """Cancel `task` and wait until it ends, cancelling again while it carries on (a library
    swallowed the cancellation). The caller must have decided the stop first."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=every_s)


def forget_cancellations(*, keep: int = 0) -> None:
    """Withdraw the current task's pending cancellation requests beyond `keep`: the owner who
    could have sent them decided no stop, so they are leftovers (see the module docstring)."""
    task = asyncio.current_task()
    if task is not None:
        while task.cancelling() > keep:
            task.uncancel()


@asynccontextmanager
async def task_group() -> AsyncIterator[asyncio.TaskGroup]:
    """An `asyncio.TaskGroup` that, when it ends with its children's errors, leaves the current
    task's cancellation count as it found it (CPython 3.11 and 3.12.1 leave one behind).

    A stop requested while the children failed is withdrawn too; owners re-send it
    (`cancel_until_done`), so it is delayed by at most `RECANCEL_AFTER_S`, never lost.
    """
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup:
        forget_cancellations(keep=before)
        raise

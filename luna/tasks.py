"""Helpers for asyncio tasks that must stop when told to.

Some client libraries catch the CancelledError thrown into them while tearing a connection
down and raise their own error instead; a loop that logs errors and carries on would then
never stop. Code that catches broad exceptions asks `being_cancelled()` first.
"""

from __future__ import annotations

import asyncio


def being_cancelled() -> bool:
    """Whether the current task has a cancellation pending, even one a library swallowed."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

"""One LISTEN connection per channel, held until its owner's block ends, reconnected after
the database goes away.

    async with listening(url, CHANNEL, on_notify, name="worker roster"):
        ...

`on_connected` runs after each (re)connection: a notification sent while nobody listened is
lost, so a listener that caches anything drops it, and one that wakes waiters wakes them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg

from luna.tasks import StopDecision, cancel_until_done

log = logging.getLogger("luna.db.listen")

Notify = Callable[[object, int, str, str], None]

# How long to wait before reconnecting after the database went away.
RECONNECT_DELAY_S = 1.0


async def _hold(
    database_url: str,
    channel: str,
    on_notify: Notify,
    *,
    name: str,
    stop: StopDecision,
    on_connected: Callable[[], None] | None,
) -> None:
    while not stop.decided:
        try:
            conn = await asyncpg.connect(database_url)
        except (OSError, asyncpg.PostgresError) as exc:
            if stop.decided:
                return  # asyncpg turned our cancellation into a connection error
            log.warning("%s cannot connect: %r", name, exc)
            await asyncio.sleep(RECONNECT_DELAY_S)
            continue
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
        try:
            await conn.add_listener(channel, on_notify)
            if on_connected is not None:
                on_connected()
            await lost.wait()
            log.warning("%s lost its connection; reconnecting", name)
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
        await asyncio.sleep(RECONNECT_DELAY_S)


@asynccontextmanager
async def listening(
    database_url: str,
    channel: str,
    on_notify: Notify,
    *,
    name: str,
    on_connected: Callable[[], None] | None = None,
) -> AsyncIterator[None]:
    """Listen on `channel` for the block's duration; the stop is decided when it ends."""
    stop = StopDecision()
    async with asyncio.TaskGroup() as group:
        listener = group.create_task(
            _hold(database_url, channel, on_notify, name=name, stop=stop, on_connected=on_connected)
        )
        try:
            yield
        finally:
            stop.decide()
            await cancel_until_done(listener)

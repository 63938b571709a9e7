"""The PostgreSQL connection pool as one async context, with JSON handled by orjson.

A request that finds every connection busy waits at most `wait_s`, then fails with
`BackendUnavailable` (503 with Retry-After), never an unbounded wait or a 500.

async with database_pool(url, max_size=10, wait_s=5) as pool:
    await pool.fetchval("SELECT 1")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson

from luna.errors import BackendUnavailable

# How long a caller waits for a free connection unless told otherwise.
DEFAULT_WAIT_S = 10.0


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is. luna leaves no session state on pooled
    connections (no SET, no session advisory lock held past its own `finally`, no LISTEN,
    no cursor outside a transaction; asyncpg still rolls back an open transaction), so the
    default reset (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) would
    be one more round trip on every release, a third of a one-query request's time."""


class _BoundedAcquire:
    """`pool.acquire()` whose wait for a free connection ends in `BackendUnavailable`."""

    def __init__(self, context: Any, *, max_size: int, wait_s: float) -> None:
        self._context = context
        self._max_size = max_size
        self._wait_s = wait_s

    def _busy(self) -> BackendUnavailable:
        return BackendUnavailable(
            "database",
            f"all {self._max_size} connections stayed busy for {self._wait_s:g} s",
        )

    async def __aenter__(self) -> asyncpg.Connection:
        try:
            return await self._context.__aenter__()
        except TimeoutError:
            raise self._busy() from None

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(*exc)

    async def _acquire(self) -> asyncpg.Connection:
        try:
            return await self._context
        except TimeoutError:
            raise self._busy() from None

    def __await__(self) -> Generator[Any, None, asyncpg.Connection]:
        return self._acquire().__await__()


class QueuingPool(asyncpg.Pool):
    """An asyncpg pool whose callers queue for at most `wait_s` (the pool's own helpers,
    `pool.fetchval` and friends, acquire through this too)."""

    def __init__(self, *args: Any, wait_s: float = DEFAULT_WAIT_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wait_s = wait_s

    def acquire(self, *, timeout: float | None = None) -> Any:
        context = super().acquire(timeout=timeout if timeout is not None else self.wait_s)
        return _BoundedAcquire(context, max_size=self.get_max_size(), wait_s=context.timeout)


@asynccontextmanager
async def database_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, wait_s: float = DEFAULT_WAIT_S
) -> AsyncIterator[asyncpg.Pool]:
    pool = QueuingPool(
        url,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        init=_init_connection,
        reset=_keep_session,
        # A connection that fails mid-query (database restart) is replaced, not reused.
        max_inactive_connection_lifetime=300,
        command_timeout=60,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        wait_s=wait_s,
    )
    await pool
    try:
        yield pool
    finally:
        await pool.close()

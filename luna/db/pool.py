"""The PostgreSQL connection pool as one async context, with JSON handled by orjson.

async with database_pool(url, max_size=10) as pool:
    await pool.fetchval("SELECT 1")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson


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


@asynccontextmanager
async def database_pool(
    url: str, *, min_size: int = 1, max_size: int = 10
) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        # A connection that fails mid-query (database restart) is replaced, not reused.
        max_inactive_connection_lifetime=300,
        command_timeout=60,
    )
    try:
        yield pool
    finally:
        await pool.close()

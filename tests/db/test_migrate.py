"""The migration runner: numbered files, up and down, safe from two replicas at once."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest
from conftest import PG_ADMIN_URL

from luna.db.migrate import current_version, migrate, newest_version


@pytest.fixture
async def empty_database():
    name = f"luna_migrate_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


async def test_two_replicas_migrating_at_once_apply_each_step_once(empty_database):
    first, second = await asyncpg.connect(empty_database), await asyncpg.connect(empty_database)
    try:
        done = await asyncio.gather(migrate(first), migrate(second))
        applied = sorted(done[0] + done[1])
        assert len(applied) == newest_version() >= 3
        assert all(step.startswith("up ") for step in applied)
        assert [] in done  # the one that waited found nothing left to do
        assert await current_version(first) == newest_version()
    finally:
        await first.close()
        await second.close()


async def test_down_to_zero_and_up_again(empty_database):
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn)
        assert {"datasets", "validation_jobs", "findings"} <= await tables(conn)
        down = await migrate(conn, to=1)
        assert (
            down == [s for s in down if s.startswith("down ")] and len(down) == newest_version() - 1
        )
        assert await current_version(conn) == 1
        await migrate(conn, to=0)
        assert await tables(conn) == {"schema_migrations"}
        assert len(await migrate(conn)) == newest_version()
        assert await migrate(conn) == []
    finally:
        await conn.close()

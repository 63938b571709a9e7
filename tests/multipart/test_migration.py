"""Migration 0002 goes up, down and up again on a fresh database, and its columns hold together."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from conftest import PG_ADMIN_URL

from luna.db.migrate import current_version, migrate


@pytest.fixture(scope="module")
async def conn(run_id: str) -> AsyncIterator[asyncpg.Connection]:
    """A fresh database for this module (creating and dropping one takes seconds)."""
    name = f"luna_test_{run_id}_mig_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    connection = await asyncpg.connect(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    try:
        yield connection
    finally:
        await connection.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def columns(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'dataset_files'"
    )
    return {r["column_name"] for r in rows}


async def test_up_down_up(conn: asyncpg.Connection) -> None:
    await migrate(conn, to=2)
    assert await current_version(conn) >= 2
    assert {"multipart_upload_id", "part_size_bytes", "multipart_state"} <= await columns(conn)
    await migrate(conn, to=1)
    assert not {"multipart_upload_id", "part_size_bytes", "multipart_state"} & await columns(conn)
    await migrate(conn, to=2)
    assert "multipart_state" in await columns(conn)


async def test_an_upload_id_comes_with_its_part_size_and_state(conn: asyncpg.Connection) -> None:
    await migrate(conn, to=2)
    await conn.execute("TRUNCATE teams RESTART IDENTITY CASCADE")
    team = await conn.fetchval("INSERT INTO teams (name) VALUES ('red') RETURNING id")
    user = await conn.fetchval(
        "INSERT INTO users (username, password_hash, team_id) VALUES ('a', 'x', $1) RETURNING id",
        team,
    )
    dataset = await conn.fetchval(
        "INSERT INTO datasets (team_id, user_id, name, files_count, bytes_total) "
        "VALUES ($1, $2, 'd', 1, 1) RETURNING id",
        team,
        user,
    )
    insert = (
        "INSERT INTO dataset_files (dataset_id, filename, content_type, size_bytes, s3_key, "
        "multipart_upload_id, part_size_bytes, multipart_state) "
        "VALUES ($1, $2, 'a/b', 1, 'k', $3, $4, $5)"
    )
    await conn.execute(insert, dataset, "whole", "u", 5, "uploading")
    await conn.execute(insert, dataset, "single", None, None, None)
    for name, values in {
        "no-size": ("u", None, "uploading"),
        "bad-state": ("u", 5, "done"),
    }.items():
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, dataset, name, *values)

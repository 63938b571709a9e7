"""Numbered SQL migrations (`sql/NNNN_name.up.sql` / `.down.sql`) applied under an advisory lock.

    applied = await migrate(conn)            # up to the newest
    applied = await migrate(conn, to=0)      # all the way down

Two replicas running `python -m luna migrate` at once is safe: the second waits on the lock,
then finds nothing left to do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# An arbitrary constant; every luna process agrees on it.
MIGRATION_LOCK_ID = 0x4C554E41  # "LUNA"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$")


def sql_dir() -> Path:
    """Where the migrations live: LUNA_SQL_DIR, else `sql/` beside the package."""
    configured = os.environ.get("LUNA_SQL_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "sql"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Path
    down: Path | None


def discover(directory: Path) -> list[Migration]:
    found: dict[int, dict[str, Path | str]] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"{path.name}: migration files are named NNNN_name.up.sql/.down.sql")
        version, name, direction = int(match[1]), match[2], match[3]
        entry = found.setdefault(version, {"name": name})
        entry[direction] = path
    migrations = []
    for version, entry in sorted(found.items()):
        if "up" not in entry:
            raise ValueError(f"migration {version:04d} has no .up.sql")
        down = entry.get("down")
        migrations.append(
            Migration(
                version=version,
                name=str(entry["name"]),
                up=Path(entry["up"]),
                down=Path(down) if down else None,
            )
        )
    return migrations


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


async def migrate(
    conn: asyncpg.Connection, *, to: int | None = None, directory: Path | None = None
) -> list[str]:
    """Bring the schema to version `to` (default: newest); returns what was applied or undone."""
    migrations = discover(directory or sql_dir())
    target = to if to is not None else max((m.version for m in migrations), default=0)
    done: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(_CREATE_TABLE)
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for m in migrations:
            if m.version <= target and m.version not in applied:
                async with conn.transaction():
                    await conn.execute(m.up.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        m.version,
                        m.name,
                    )
                done.append(f"up {m.version:04d}_{m.name}")
        for m in reversed(migrations):
            if m.version > target and m.version in applied:
                if m.down is None:
                    raise ValueError(f"migration {m.version:04d} cannot go down: no .down.sql")
                async with conn.transaction():
                    await conn.execute(m.down.read_text())
                    await conn.execute(
                        "DELETE FROM schema_migrations WHERE version = $1", m.version
                    )
                done.append(f"down {m.version:04d}_{m.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    return done


async def current_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


def newest_version(directory: Path | None = None) -> int:
    return max((m.version for m in discover(directory or sql_dir())), default=0)

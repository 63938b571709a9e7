"""The commands an organiser types: settings errors, migrate, user add."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import Account, login

ROOT = Path(__file__).resolve().parents[2]


def luna(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "luna", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_setting_stops_start_up_with_one_line_naming_it():
    result = luna("serve", env={"LUNA_PORT": "eighty"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "LUNA_PORT" in lines[0], result.stderr


def test_an_external_database_without_a_jwt_secret_refuses_to_start(migrated_database):
    env = {"DATABASE_URL": migrated_database, "JWT_SECRET_KEY": "", "LUNA_PORT": "0"}
    result = luna("serve", env={k: v for k, v in env.items() if v})
    assert result.returncode == 2
    assert "JWT_SECRET_KEY" in result.stderr


async def test_user_add_creates_a_member_who_can_log_in(migrated_database, db, make_client):
    env = {"DATABASE_URL": migrated_database}
    result = luna(
        "user", "add", "zoe", "--team", "green", "--password-stdin", env=env, stdin="s3cret-pw\n"
    )
    assert result.returncode == 0, result.stderr
    assert "created member 'zoe' of team 'green'" in result.stdout
    row = await db.fetchrow(
        "SELECT u.password_hash, u.is_admin, t.name FROM users u JOIN teams t ON t.id = u.team_id"
    )
    assert row["name"] == "green" and not row["is_admin"]
    assert row["password_hash"].startswith("scrypt$") and "s3cret" not in row["password_hash"]
    client = await make_client()
    await login(client, Account("zoe", "s3cret-pw", "green", 0, False))

    again = luna(
        "user",
        "add",
        "zoe",
        "--team",
        "green",
        "--admin",
        "--password-stdin",
        env=env,
        stdin="new-pw\n",
    )
    assert "updated organiser" in again.stdout
    await login(client, Account("zoe", "new-pw", "green", 0, True))


def test_migrate_reports_an_up_to_date_schema(migrated_database):
    result = luna("migrate", env={"DATABASE_URL": migrated_database})
    assert result.returncode == 0, result.stderr
    assert "schema is up to date" in result.stdout

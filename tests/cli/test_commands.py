"""The commands an organiser types: settings errors, migrate, user add."""

from __future__ import annotations

import asyncio
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
        "user",
        "add",
        "zoe",
        "--team",
        "green",
        "--password-stdin",
        env=env,
        stdin="s3cret-password\n",
    )
    assert result.returncode == 0, result.stderr
    assert "created member 'zoe' of team 'green'" in result.stdout
    row = await db.fetchrow(
        "SELECT u.password_hash, u.is_admin, t.name FROM users u JOIN teams t ON t.id = u.team_id"
    )
    assert row["name"] == "green" and not row["is_admin"]
    assert row["password_hash"].startswith("scrypt$") and "s3cret" not in row["password_hash"]
    client = await make_client()
    await login(client, Account("zoe", "s3cret-password", "green", 0, False))

    again = luna(
        "user",
        "add",
        "zoe",
        "--team",
        "green",
        "--admin",
        "--move",
        "--reset-password",
        "--password-stdin",
        env=env,
        stdin="new-password-1\n",
    )
    assert again.returncode == 0, again.stderr
    assert "now an organiser of team 'green'" in again.stdout or "organiser" in again.stdout
    await login(client, Account("zoe", "new-password-1", "green", 0, True))


async def test_user_add_never_moves_an_existing_user_silently(migrated_database, db, make_client):
    env = {"DATABASE_URL": migrated_database}
    args = ("user", "add", "yuri", "--password-stdin")
    assert luna(*args, "--team", "alpha", env=env, stdin="first-password\n").returncode == 0
    client = await make_client()
    account = Account("yuri", "first-password", "alpha", 0, False)
    headers = await login(client, account)

    refused = luna(*args, "--team", "beta", env=env, stdin="other-password\n")
    assert refused.returncode == 1
    assert "already exists" in refused.stderr and "--move" in refused.stderr
    assert (
        await db.fetchval(
            "SELECT t.name FROM users u JOIN teams t ON t.id = u.team_id WHERE u.username = 'yuri'"
        )
        == "alpha"
    )
    assert (await client.get("/api/v1/datasets", headers=headers)).status == 200
    # The same team without a flag changes nothing either (not even the password).
    assert luna(*args, "--team", "alpha", env=env, stdin="other-password\n").returncode == 1
    await login(client, account)

    moved = luna(*args, "--team", "beta", "--move", env=env)
    assert moved.returncode == 0, moved.stderr
    assert "team 'beta'" in moved.stdout
    # The old token named team alpha: it stops working; the same password logs in to beta.
    deadline = asyncio.get_running_loop().time() + 2
    while (await client.get("/api/v1/datasets", headers=headers)).status != 401:
        assert asyncio.get_running_loop().time() < deadline, "the moved user's token still works"
        await asyncio.sleep(0.05)
    await login(client, Account("yuri", "first-password", "beta", 0, False))


def test_user_add_refuses_a_short_password(migrated_database):
    result = luna(
        "user",
        "add",
        "walt",
        "--team",
        "green",
        "--password-stdin",
        env={"DATABASE_URL": migrated_database},
        stdin="short\n",
    )
    assert result.returncode == 2
    assert "at least 10 characters" in result.stderr


def test_migrate_reports_an_up_to_date_schema(migrated_database):
    result = luna("migrate", env={"DATABASE_URL": migrated_database})
    assert result.returncode == 0, result.stderr
    assert "schema is up to date" in result.stdout

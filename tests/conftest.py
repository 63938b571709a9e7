"""Session-wide infrastructure for the tests: real PostgreSQL, RabbitMQ, Redis and S3.

Each test session gets its own database, queue names and bucket, so two sessions on one
machine (or CI beside a developer) never see each other's state. State is reset per test by
the fixtures that use it.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from support import Account

from luna.settings import Settings

# Job-queue fixtures (`rabbit_queue`, `embedded_queue`, `job_queue`) shared by several folders.
pytest_plugins = ["job_queues"]

PG_ADMIN_URL = os.environ.get("LUNA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("LUNA_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("LUNA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = secrets.token_hex(4)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short random id naming this session's database, queues and bucket."""
    return RUN_ID


@pytest.fixture(scope="session")
async def database_url(run_id: str) -> AsyncIterator[str]:
    """A fresh, empty database for this test session, dropped at the end."""
    name = f"luna_test_{run_id}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port for the whole session."""
    from moto.server import ThreadedMotoServer

    # moto's HTTP server logs every request; the tests' output should show luna's lines.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return AMQP_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
async def queue_name(run_id: str, amqp_url: str) -> AsyncIterator[str]:
    """A queue name unique to this test (with its retry and dead queues, deleted after)."""
    import aio_pika

    name = f"luna.test.{run_id}.{secrets.token_hex(3)}"
    yield name
    connection = await aio_pika.connect(amqp_url)
    try:
        for suffix in ("", ".retry", ".dead"):
            channel = await connection.channel()
            try:
                await channel.queue_delete(name + suffix)
            except aio_pika.exceptions.AMQPError:
                pass  # never declared by this test
    finally:
        await connection.close()


@pytest.fixture
def make_settings(database_url: str, s3_endpoint: str, amqp_url: str, queue_name: str, run_id: str):
    """Build `Settings` pointing at this session's services; keyword overrides win."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database_url,
            "minio_endpoint": s3_endpoint,
            "minio_access_key": "test",
            "minio_secret_key": SecretStr("test"),
            "minio_bucket": f"luna-test-{run_id}",
            "amqp_url": amqp_url,
            "luna_queue": queue_name,
            "jwt_secret_key": SecretStr("test-secret-for-luna-tests-" + run_id),
            "luna_validators": 2,
            "luna_port": 0,
        }
        values.update(overrides)
        data = Settings().model_dump()
        data.update(values)
        return Settings.model_construct(**data)

    return build


# ---------------------------------------------------------------- database, app and accounts

TABLES = "teams, users, datasets, dataset_files, validation_jobs, validation_logs, findings"


@pytest.fixture(scope="session")
async def migrated_database(database_url: str) -> str:
    """The session database with every migration applied."""
    from luna.db.migrate import migrate

    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return database_url


@pytest.fixture
async def db(migrated_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session database, emptied before the test."""
    from luna.db.pool import database_pool

    async with database_pool(migrated_database, max_size=4) as pool:
        await pool.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        yield pool


@pytest.fixture
def add_account(db: asyncpg.Pool):
    """Create a user (and its team); returns an `Account` with the plain password."""
    from luna.auth import hash_password
    from luna.db import queries

    async def add(username: str, *, team: str, admin: bool = False) -> Account:
        password = secrets.token_urlsafe(12)
        async with db.acquire() as conn:
            await queries.save_user(
                conn, username, password_hash=hash_password(password), team=team, is_admin=admin
            )
            user = await queries.fetch_user(conn, username)
        assert user is not None
        return Account(username, password, team, user.team_id, admin)

    return add


@pytest.fixture
def make_client(db: asyncpg.Pool, make_settings, aiohttp_client):
    """Start luna's app (the real `create_app`) against this session's services."""
    from luna.http.app import create_app

    async def start(**overrides: object) -> TestClient:
        overrides.setdefault("luna_validators", 0)
        return await aiohttp_client(create_app(make_settings(**overrides), mode="serve"))

    return start


# ---------------------------------------------------------------- one service, two kinds of backends


@dataclass
class Service:
    """A running luna (the real app) and a way to add accounts to its database."""

    client: TestClient
    kind: str  # "real" or "embedded"

    async def add_account(self, username: str, *, team: str, admin: bool = False) -> Account:
        from luna.auth import hash_password
        from luna.db import queries
        from luna.http.keys import DB

        password = secrets.token_urlsafe(12)
        async with self.client.app[DB].acquire() as conn:
            await queries.save_user(
                conn, username, password_hash=hash_password(password), team=team, is_admin=admin
            )
            user = await queries.fetch_user(conn, username)
        assert user is not None
        return Account(username, password, team, user.team_id, admin)


EMBEDDED_ROOT = Path(__file__).resolve().parents[1] / ".luna" / "tests"


@pytest.fixture(params=["real", "embedded"])
def start_service(request, make_client, make_settings, aiohttp_client, db, run_id):
    """Start luna on real backends, or with every backend embedded (no URLs set at all)."""
    data_dirs: list[Path] = []

    async def start(**overrides: object) -> Service:
        if request.param == "real":
            return Service(await make_client(**overrides), "real")
        data_dir = EMBEDDED_ROOT / f"{run_id}-{len(data_dirs)}-{secrets.token_hex(2)}"
        data_dirs.append(data_dir)
        port = free_port()
        settings = make_settings(
            database_url=None,
            minio_endpoint=None,
            amqp_url=None,
            jwt_secret_key=None,
            luna_data_dir=data_dir,
            luna_port=port,
            luna_public_url=f"http://127.0.0.1:{port}",
            **overrides,
        )
        from luna.http.app import create_app

        client = await aiohttp_client(
            create_app(settings, mode="serve"), server_kwargs={"port": port}
        )
        return Service(client, "embedded")

    yield start
    for data_dir in data_dirs:
        shutil.rmtree(data_dir, ignore_errors=True)

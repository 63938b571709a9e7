"""Typed application keys: everything a handler reaches through `request.app`."""

from __future__ import annotations

from typing import Any, Protocol

import asyncpg
from aiohttp import web

from luna.auth import PasswordChecks, Principal
from luna.http.status_cache import SettledStatuses
from luna.identity import Identities
from luna.jobs.events import JobEvents
from luna.observability import Metrics
from luna.queue.base import JobQueue
from luna.ratelimit import RateLimiter
from luna.settings import Settings
from luna.storage.base import ObjectStore
from luna.workers import WorkerRoster

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
DB = web.AppKey("db", asyncpg.Pool)
STORE = web.AppKey("store", ObjectStore)
QUEUE = web.AppKey("queue", JobQueue)
# Mutable process state probes read: {"ready": bool, "draining": bool}.
STATE = web.AppKey("state", dict[str, Any])
LIMITER = web.AppKey("limiter", RateLimiter)
EVENTS = web.AppKey("events", JobEvents)
STATUS_CACHE = web.AppKey("status_cache", SettledStatuses)
ROSTER = web.AppKey("worker_roster", WorkerRoster)


class PoolHealth(Protocol):
    """What the process sees of its validator pool (`luna.actors.ValidatorPool`)."""

    size: int

    @property
    def live_validators(self) -> int: ...

    @property
    def active_jobs(self) -> int: ...

    async def wait_failed(self) -> Exception: ...


# The validator pool, when this process runs validators.
POOL = web.AppKey("validator_pool", PoolHealth)
PASSWORDS = web.AppKey("passwords", PasswordChecks)
IDENTITIES = web.AppKey("identities", Identities)
# The caller of an authenticated request, as their user row says now (luna.identity).
PRINCIPAL = web.RequestKey("principal", Principal)

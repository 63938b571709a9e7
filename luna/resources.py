"""One async context manager per backing service, chosen by its URL in `Settings`.

`serve` registers each as an `app.cleanup_ctx` entry; `worker` uses the same ones, so both
modes open and close their resources the same way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from luna.db.pool import database_pool
from luna.queue.base import JobQueue
from luna.settings import Settings
from luna.storage.base import ObjectStore

log = logging.getLogger("luna.resources")


class ConfigurationError(Exception):
    """A setting needed by this mode is missing; the message names it."""


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    if not settings.database_url:
        raise ConfigurationError("DATABASE_URL is not set; point it at PostgreSQL")
    # Validators hold a connection only briefly; the API needs a few for concurrent requests.
    async with database_pool(settings.database_url, max_size=settings.luna_validators + 10) as pool:
        yield pool


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[ObjectStore]:
    if not settings.minio_endpoint:
        raise ConfigurationError("MINIO_ENDPOINT is not set; point it at the S3 server")
    from luna.storage.s3 import s3_store

    async with s3_store(settings) as store:
        await store.ensure_bucket()
        yield store


@asynccontextmanager
async def open_queue(settings: Settings) -> AsyncIterator[JobQueue]:
    if not settings.amqp_url:
        raise ConfigurationError("AMQP_URL is not set; point it at RabbitMQ")
    from luna.queue.amqp import amqp_queue

    async with amqp_queue(settings.amqp_url, queue_name=settings.luna_queue) as queue:
        yield queue


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[object | None]:
    """A Redis client when REDIS_URL is set (shared login limits), else None."""
    if not settings.redis_url:
        yield None
        return
    import redis.asyncio as redis

    client = redis.from_url(settings.redis_url)
    try:
        yield client
    finally:
        await client.aclose()

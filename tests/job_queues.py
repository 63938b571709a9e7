"""Job queues for the actor and queue tests: the RabbitMQ one on this session's broker (its three queues
deleted after each test) and the embedded one, and `job_queue` running a test on both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest

from luna.queue.amqp import AmqpJobQueue, QueueNames, amqp_queue
from luna.queue.memory import MemoryJobQueue, memory_queue

Condition = Callable[[], Awaitable[bool]]


async def delete_queues(amqp_url: str, queue_name: str) -> None:
    names = QueueNames(queue_name)
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        for name in (names.jobs, names.retry, names.dead):
            await channel.queue_delete(name, if_unused=False, if_empty=False)


@pytest.fixture
async def rabbit_queue(amqp_url: str, queue_name: str) -> AsyncIterator[AmqpJobQueue]:
    try:
        async with amqp_queue(
            amqp_url, queue_name=queue_name, connection_name=f"luna-test {queue_name}"
        ) as queue:
            yield queue
    finally:
        await delete_queues(amqp_url, queue_name)


@pytest.fixture
async def embedded_queue() -> AsyncIterator[MemoryJobQueue]:
    async with memory_queue() as queue:
        yield queue


@pytest.fixture(params=["rabbitmq", "embedded"])
def job_queue(request: pytest.FixtureRequest) -> AmqpJobQueue | MemoryJobQueue:
    """Each test using it runs once on RabbitMQ and once on the embedded queue."""
    fixture = "rabbit_queue" if request.param == "rabbitmq" else "embedded_queue"
    return request.getfixturevalue(fixture)


@pytest.fixture
def until() -> Callable[[Condition], Awaitable[None]]:
    """Wait until an async condition holds (the broker settles some things asynchronously);
    the timeout only keeps a broken build from hanging."""

    async def wait(condition: Condition, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not await condition():
            if time.monotonic() > deadline:
                raise AssertionError("the condition never held")
            await asyncio.sleep(0.02)

    return wait

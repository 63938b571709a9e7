"""The behaviour every `JobQueue` promises, pinned on RabbitMQ and on the embedded queue."""

from __future__ import annotations

import asyncio
import time

import pytest

from luna.errors import BackendUnavailable
from luna.queue.amqp import AmqpJobQueue
from luna.queue.memory import MemoryJobQueue

JobQueue = AmqpJobQueue | MemoryJobQueue


async def test_published_job_is_delivered_once_and_gone_after_ack(job_queue: JobQueue) -> None:
    await job_queue.publish(7)
    assert await job_queue.length() == 1
    async with job_queue.consume(prefetch=1) as deliveries:
        delivery = await anext(deliveries)
        assert (delivery.job_id, delivery.redelivered) == (7, False)
        assert await job_queue.length() == 0
        await delivery.ack()
    assert await job_queue.length() == 0
    assert await job_queue.dead_length() == 0


async def test_jobs_arrive_in_publish_order(job_queue: JobQueue) -> None:
    for job_id in (1, 2, 3):
        await job_queue.publish(job_id)
    async with job_queue.consume(prefetch=3) as deliveries:
        taken = [await anext(deliveries) for _ in range(3)]
        assert [d.job_id for d in taken] == [1, 2, 3]
        for delivery in taken:
            await delivery.ack()


async def test_retry_delivers_the_job_again_after_its_delay(job_queue: JobQueue) -> None:
    delay_s = 0.5
    await job_queue.publish(11)
    async with job_queue.consume(prefetch=1) as deliveries:
        first = await anext(deliveries)
        retried_at = time.monotonic()
        await first.retry(delay_s=delay_s)
        again = await asyncio.wait_for(anext(deliveries), 15)
        waited_s = time.monotonic() - retried_at
        assert again.job_id == 11
        await again.ack()
    # Never early: the delay is a lower bound (RabbitMQ expires the retry copy after it).
    assert waited_s >= delay_s - 0.05


async def test_rejected_job_is_kept_aside_and_not_delivered_again(job_queue, until) -> None:
    await job_queue.publish(13)
    await job_queue.publish(14)
    async with job_queue.consume(prefetch=1) as deliveries:
        rejected = await anext(deliveries)
        await rejected.reject("the message names no dataset")

        async def dead_letter_kept() -> bool:
            return await job_queue.dead_length() == 1

        await until(dead_letter_kept)
        following = await anext(deliveries)
        assert following.job_id == 14
        await following.ack()
    assert await job_queue.length() == 0


async def test_unsettled_deliveries_come_back_redelivered_when_the_consumer_closes(
    job_queue: JobQueue, until
) -> None:
    await job_queue.publish(21)
    await job_queue.publish(22)
    async with job_queue.consume(prefetch=2) as deliveries:
        first, second = await anext(deliveries), await anext(deliveries)
        await first.ack()
        assert second.job_id == 22  # taken, never settled

    async def back_in_queue() -> bool:
        return await job_queue.length() == 1

    await until(back_in_queue)
    async with job_queue.consume(prefetch=1) as deliveries:
        again = await anext(deliveries)
        assert (again.job_id, again.redelivered) == (22, True)
        await again.ack()


async def test_prefetch_bounds_the_unsettled_deliveries(job_queue: JobQueue, until) -> None:
    await job_queue.publish(31)
    await job_queue.publish(32)
    async with job_queue.consume(prefetch=1) as deliveries:
        first = await anext(deliveries)
        # With one delivery unsettled, the second job stays in the queue for other consumers.
        assert await job_queue.length() == 1
        await first.ack()
        second = await anext(deliveries)
        assert second.job_id == 32
        await second.ack()


async def test_stop_ends_the_stream_but_taken_deliveries_still_settle(
    job_queue: JobQueue, until
) -> None:
    for job_id in (41, 42, 43):
        await job_queue.publish(job_id)
    async with job_queue.consume(prefetch=3) as deliveries:
        taken = await anext(deliveries)
        await deliveries.stop()
        with pytest.raises(StopAsyncIteration):
            await anext(deliveries)
        await taken.ack()

        async def others_given_back() -> bool:
            return await job_queue.length() == 2

        await until(others_given_back)


async def test_a_delivery_settles_only_once(job_queue: JobQueue) -> None:
    await job_queue.publish(51)
    async with job_queue.consume(prefetch=1) as deliveries:
        delivery = await anext(deliveries)
        await delivery.ack()
        with pytest.raises(RuntimeError, match="already settled"):
            await delivery.reject("twice")


async def test_settling_after_the_consumer_closed_is_a_backend_error(
    job_queue: JobQueue, until
) -> None:
    await job_queue.publish(61)
    async with job_queue.consume(prefetch=1) as deliveries:
        delivery = await anext(deliveries)
    with pytest.raises(BackendUnavailable):
        await delivery.ack()

    async def given_back() -> bool:
        return await job_queue.length() == 1

    await until(given_back)


async def test_ping_answers(job_queue: JobQueue) -> None:
    await job_queue.ping()

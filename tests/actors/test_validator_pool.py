"""The validator pool end to end, on RabbitMQ and on the embedded queue: every job handled,
settled by its outcome, never lost to a crash, a time limit or a shutdown."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from luna import constants
from luna.actors import SupervisorEscalated, validator_pool
from luna.actors import pool as pool_module
from luna.errors import Reject, Retry
from luna.queue.amqp import AmqpJobQueue
from luna.queue.base import Delivery
from luna.queue.memory import MemoryJobQueue

JobQueue = AmqpJobQueue | MemoryJobQueue
Behaviour = Callable[[int, int], Awaitable[None]]  # (job_id, attempt)


class RecordingHandler:
    """A job handler that records every call and behaves as told per attempt."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.calls: list[int] = []
        self.finished: list[int] = []
        self.running = 0
        self.most_running = 0
        self._behaviour = behaviour

    async def __call__(self, job_id: int) -> None:
        self.calls.append(job_id)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if self._behaviour is not None:
                await self._behaviour(job_id, self.calls.count(job_id))
            self.finished.append(job_id)
        finally:
            self.running -= 1


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries after crashes and time-outs come back in 50 ms instead of seconds."""
    monkeypatch.setattr(constants, "JOB_RETRY_DELAY_S", 0.05)


def pool_of(queue: object, handler: object, *, size: int, **overrides: float):
    options = {"job_time_limit_s": 30.0, "shutdown_grace_s": 5.0}
    options.update(overrides)
    return validator_pool(queue, handler, size=size, **options)  # type: ignore[arg-type]


async def test_each_job_is_handled_exactly_once_by_several_validators(
    job_queue: JobQueue, until
) -> None:
    async def vary(job_id: int, attempt: int) -> None:
        await asyncio.sleep(0.001 * (job_id % 4))

    handler = RecordingHandler(vary)
    job_ids = list(range(1, 41))
    for job_id in job_ids:
        await job_queue.publish(job_id)
    async with pool_of(job_queue, handler, size=4) as pool:

        async def all_done() -> bool:
            return len(handler.finished) == len(job_ids) and pool.active_jobs == 0

        await until(all_done)
    assert sorted(handler.calls) == job_ids  # each once, none twice
    assert handler.most_running <= 4
    assert await job_queue.length() == 0
    assert await job_queue.dead_length() == 0


async def test_busy_validators_leave_further_jobs_in_the_queue(job_queue: JobQueue, until) -> None:
    gate = asyncio.Event()

    async def wait_for_gate(job_id: int, attempt: int) -> None:
        await gate.wait()

    handler = RecordingHandler(wait_for_gate)
    for job_id in range(1, 6):
        await job_queue.publish(job_id)
    async with pool_of(job_queue, handler, size=3) as pool:

        async def all_busy() -> bool:
            return pool.active_jobs == 3

        await until(all_busy)
        # Back-pressure: three taken, the other two wait where any replica can take them.
        assert await job_queue.length() == 2
        gate.set()

        async def all_done() -> bool:
            return len(handler.finished) == 5

        await until(all_done)
    assert sorted(handler.calls) == [1, 2, 3, 4, 5]


async def test_a_handler_raising_retry_runs_the_job_again(job_queue: JobQueue, until) -> None:
    async def blip_once(job_id: int, attempt: int) -> None:
        if attempt == 1:
            raise Retry("storage blinked", delay_s=0.05)

    handler = RecordingHandler(blip_once)
    await job_queue.publish(7)
    async with pool_of(job_queue, handler, size=2):

        async def done() -> bool:
            return handler.finished == [7]

        await until(done)
    assert handler.calls == [7, 7]
    assert await job_queue.length() == 0
    assert await job_queue.dead_length() == 0


async def test_a_handler_raising_reject_sends_the_job_to_the_dead_queue(
    job_queue: JobQueue, until
) -> None:
    async def reject_job_8(job_id: int, attempt: int) -> None:
        if job_id == 8:
            raise Reject("the dataset is gone")

    handler = RecordingHandler(reject_job_8)
    await job_queue.publish(8)
    await job_queue.publish(9)
    async with pool_of(job_queue, handler, size=1):

        async def settled() -> bool:
            return handler.finished == [9] and await job_queue.dead_length() == 1

        await until(settled)
    assert handler.calls == [8, 9]
    assert await job_queue.length() == 0


@pytest.mark.usefixtures("quick_retries")
async def test_a_handler_crash_is_logged_with_the_job_id_and_retried(
    job_queue: JobQueue, until, caplog: pytest.LogCaptureFixture
) -> None:
    async def crash_once(job_id: int, attempt: int) -> None:
        if attempt == 1:
            raise KeyError("a bug in the handler")

    handler = RecordingHandler(crash_once)
    await job_queue.publish(10)
    async with pool_of(job_queue, handler, size=1):

        async def done() -> bool:
            return handler.finished == [10]

        await until(done)
    assert handler.calls == [10, 10]
    failure = next(r for r in caplog.records if r.getMessage() == "job 10 failed; retrying")
    assert failure.exc_info is not None


@pytest.mark.usefixtures("quick_retries")
async def test_a_job_over_its_time_limit_is_cut_off_and_retried(job_queue: JobQueue, until) -> None:
    cancelled: list[int] = []

    async def hang_once(job_id: int, attempt: int) -> None:
        if attempt == 1:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(job_id)
                raise

    handler = RecordingHandler(hang_once)
    await job_queue.publish(11)
    async with pool_of(job_queue, handler, size=1, job_time_limit_s=0.1):

        async def done() -> bool:
            return handler.finished == [11]

        await until(done)
    assert cancelled == [11]
    assert handler.calls == [11, 11]


class FlakyAcks:
    """A real queue whose first `failures` acks raise, as a bug in the validator would."""

    def __init__(self, inner: JobQueue, *, failures: int) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.failures = failures

    async def publish(self, job_id: int) -> None:
        await self.inner.publish(job_id)

    async def length(self) -> int:
        return await self.inner.length()

    async def ping(self) -> None:
        await self.inner.ping()

    def consume(self, *, prefetch: int) -> FlakyDeliveries:
        return FlakyDeliveries(self, self.inner.consume(prefetch=prefetch))


class FlakyDeliveries:
    def __init__(self, owner: FlakyAcks, inner) -> None:  # type: ignore[no-untyped-def]
        self.owner = owner
        self.inner = inner

    def __aiter__(self) -> FlakyDeliveries:
        return self

    async def __anext__(self) -> Delivery:
        return FlakyDelivery(self.owner, await anext(self.inner))

    async def stop(self) -> None:
        await self.inner.stop()

    async def close(self) -> None:
        await self.inner.close()

    async def __aenter__(self) -> FlakyDeliveries:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.inner.__aexit__(*exc_info)


class FlakyDelivery:
    def __init__(self, owner: FlakyAcks, inner: Delivery) -> None:
        self.owner = owner
        self.inner = inner
        self.job_id = inner.job_id
        self.redelivered = inner.redelivered

    async def ack(self) -> None:
        if self.owner.failures > 0:
            self.owner.failures -= 1
            raise RuntimeError("a bug while settling")
        await self.inner.ack()

    async def retry(self, *, delay_s: float) -> None:
        await self.inner.retry(delay_s=delay_s)

    async def reject(self, reason: str) -> None:
        await self.inner.reject(reason)


@pytest.mark.usefixtures("quick_retries")
async def test_a_crashed_validator_is_restarted_and_its_job_retried(
    job_queue: JobQueue, until
) -> None:
    handler = RecordingHandler()
    flaky = FlakyAcks(job_queue, failures=1)
    await job_queue.publish(12)
    await job_queue.publish(13)
    async with pool_of(flaky, handler, size=1) as pool:

        async def both_settled() -> bool:
            return Counter(handler.finished) == Counter({12: 2, 13: 1}) and (
                await job_queue.length() == 0 and pool.active_jobs == 0
            )

        await until(both_settled)
        assert pool.restarts == 1
    assert await job_queue.dead_length() == 0


@pytest.mark.usefixtures("quick_retries")
async def test_validators_crashing_past_the_budget_escalate_without_losing_the_job(
    job_queue: JobQueue, until, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module, "MAX_RESTARTS", 1)
    handler = RecordingHandler()
    await job_queue.publish(14)
    async with pool_of(FlakyAcks(job_queue, failures=1000), handler, size=1) as pool:
        failure = await asyncio.wait_for(pool.wait_failed(), 30)
        assert isinstance(failure, SupervisorEscalated)
    assert handler.calls == [14, 14]  # run, crash, restart, run, crash: give up

    async def job_kept() -> bool:
        return await job_queue.length() == 1

    await until(job_kept)  # each crash retried the job: the queue still has it


async def test_leaving_lets_a_running_job_finish_within_the_grace(
    job_queue: JobQueue, until
) -> None:
    async def take_a_moment(job_id: int, attempt: int) -> None:
        await asyncio.sleep(0.2)

    handler = RecordingHandler(take_a_moment)
    await job_queue.publish(15)
    async with pool_of(job_queue, handler, size=1, shutdown_grace_s=10) as pool:

        async def running() -> bool:
            return pool.active_jobs == 1

        await until(running)
    assert handler.finished == [15]
    assert await job_queue.length() == 0


async def test_leaving_cancels_jobs_past_the_grace_and_gives_them_back(
    job_queue: JobQueue, until
) -> None:
    cancelled: list[int] = []

    async def hang(job_id: int, attempt: int) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(job_id)
            raise

    handler = RecordingHandler(hang)
    await job_queue.publish(16)
    async with pool_of(job_queue, handler, size=1, shutdown_grace_s=0.05) as pool:

        async def running() -> bool:
            return pool.active_jobs == 1

        await until(running)
    assert cancelled == [16]

    async def given_back() -> bool:
        return await job_queue.length() == 1

    await until(given_back)
    async with job_queue.consume(prefetch=1) as deliveries:
        delivery = await anext(deliveries)
        assert (delivery.job_id, delivery.redelivered) == (16, True)
        await delivery.ack()


async def test_a_message_that_is_not_a_job_goes_to_the_dead_queue(
    rabbit_queue: AmqpJobQueue, until
) -> None:
    handler = RecordingHandler()
    await rabbit_queue.publish_body(b"<html>oops</html>", routing_key=rabbit_queue.names.jobs)
    await rabbit_queue.publish(17)
    async with pool_of(rabbit_queue, handler, size=1):

        async def settled() -> bool:
            return handler.finished == [17] and await rabbit_queue.dead_length() == 1

        await until(settled)
    assert handler.calls == [17]


async def test_a_pool_of_size_zero_takes_nothing(job_queue: JobQueue) -> None:
    handler = RecordingHandler()
    await job_queue.publish(18)
    async with pool_of(job_queue, handler, size=0) as pool:
        assert (pool.size, pool.active_jobs) == (0, 0)
    # No consumer was ever opened, so nothing could have taken the job.
    assert await job_queue.length() == 1
    assert handler.calls == []


async def _fail_soon() -> None:
    await asyncio.sleep(0.01)
    raise ConnectionError("storage blinked")


async def test_a_job_whose_task_group_failed_leaves_its_validator_working(
    job_queue: JobQueue, until
) -> None:
    """CPython 3.11 leaves `cancelling() == 1` on a task after a TaskGroup whose child failed
    while it waited; the validator must not read that as a shutdown and stop for good."""

    async def task_group_fails_once(job_id: int, attempt: int) -> None:
        if attempt == 1:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(_fail_soon())
                    group.create_task(asyncio.sleep(1))
            except* ConnectionError:
                raise Retry("storage blinked", delay_s=0.05) from None

    handler = RecordingHandler(task_group_fails_once)
    job_ids = [21, 22, 23, 24]
    for job_id in job_ids:
        await job_queue.publish(job_id)
    async with pool_of(job_queue, handler, size=1) as pool:

        async def all_done() -> bool:
            return sorted(handler.finished) == job_ids and pool.active_jobs == 0

        await until(all_done)
        assert pool.live_validators == 1
        assert pool.restarts == 0
    assert Counter(handler.calls) == {job_id: 2 for job_id in job_ids}

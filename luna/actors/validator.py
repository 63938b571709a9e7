"""The validator actor: runs one validation job at a time and settles its delivery by the
outcome. `settle` is the one place where an outcome becomes ack, retry or reject:

    handler returns               -> ack       (the handler committed the result)
    handler raises Retry(delay_s) -> retry     after delay_s
    handler raises Reject(reason) -> reject    (kept in the dead-letter queue)
    time limit, or any other raise -> retry    after JOB_RETRY_DELAY_S, logged with the job id
    the validator itself crashes   -> retry    after JOB_RETRY_DELAY_S; the supervisor restarts it
    it stops without being told    -> retry    likewise (its supervisor runs `on_failure`)
    shutdown cancels the job       -> nothing  (the delivery goes back to the queue unsettled)

The handler counts attempts and gives up after MAX_JOB_ATTEMPTS, so retrying here never
loops forever and no job is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from luna import constants
from luna.actors.messages import RunJob, ValidatorReady
from luna.actors.runtime import Actor, ActorRef, ActorStopped
from luna.errors import BackendUnavailable, JobOutcome, Reject, Retry
from luna.observability import log_context
from luna.queue.base import Delivery
from luna.tasks import forget_cancellations

log = logging.getLogger("luna.actors")

JobHandler = Callable[[int], Awaitable[None]]


class RunningJobs:
    """How many jobs the pool's validators are running; the pool drains on it at shutdown.
    An observation shared by the validators, not state any actor decides on."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.count += 1
        self._idle.clear()

    def finished(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()


async def attempt_job(
    handler: JobHandler, delivery: Delivery, *, time_limit_s: float
) -> JobOutcome | None:
    """Run the delivery's job once; None when it succeeded, else how it must be settled."""
    job_id = delivery.job_id
    if job_id is None:
        return Reject('the message is not a job message (expected {"job_id": <int>})')
    try:
        async with asyncio.timeout(time_limit_s) as deadline:
            await handler(job_id)
    except JobOutcome as outcome:
        return outcome
    except TimeoutError:
        if not deadline.expired():
            log.exception("job %d raised a timeout; retrying", job_id)
            return Retry("the job timed out", delay_s=constants.JOB_RETRY_DELAY_S)
        log.error("job %d ran over its %.0f s limit; retrying", job_id, time_limit_s)
        return Retry(
            f"the job ran over its {time_limit_s:.0f} s limit", delay_s=constants.JOB_RETRY_DELAY_S
        )
    except Exception as exc:
        log.exception("job %d failed; retrying", job_id)
        return Retry(f"the job failed: {exc!r}", delay_s=constants.JOB_RETRY_DELAY_S)
    return None


async def settle(delivery: Delivery, outcome: JobOutcome | None) -> None:
    """Acknowledge, retry or reject `delivery` as `outcome` says.

    A lost broker connection is logged, not raised: the broker delivers the job again.
    """
    try:
        if outcome is None:
            await delivery.ack()
        elif isinstance(outcome, Retry):
            await delivery.retry(delay_s=outcome.delay_s)
        elif isinstance(outcome, Reject):
            await delivery.reject(outcome.reason)
        else:
            raise TypeError(f"unknown job outcome {outcome!r}")
    except BackendUnavailable as exc:
        log.warning(
            "job %s: settling failed (%s); it will be delivered again",
            delivery.job_id,
            exc,
        )


class Validator(Actor):
    """Asks the consumer for a job when idle, runs it, settles it, asks again."""

    def __init__(
        self,
        *,
        handler: JobHandler,
        consumer: ActorRef,
        job_time_limit_s: float,
        running: RunningJobs,
    ) -> None:
        self._handler = handler
        self._consumer = consumer
        self._job_time_limit_s = job_time_limit_s
        self._running = running
        self._delivery: Delivery | None = None  # taken and not yet settled

    async def on_start(self) -> None:
        """Announces this validator idle: the first demand, or the one a crash lost."""
        await self._ask_for_work()

    async def receive(self, message: object) -> object:
        if not isinstance(message, RunJob):
            raise TypeError(f"a validator cannot handle {message!r}")
        self._delivery = message.delivery
        with log_context(job_id=message.delivery.job_id):
            self._running.started()
            try:
                outcome = await attempt_job(
                    self._handler, message.delivery, time_limit_s=self._job_time_limit_s
                )
            finally:
                self._running.finished()
            await settle(message.delivery, outcome)
        self._delivery = None
        # A job may leave a stray cancellation request on this task (CPython 3.11's TaskGroup
        # does after a child's failure). Only the supervisor decides a stop, and it re-sends
        # its cancellation until the actor ends, so withdrawing leftovers here loses nothing.
        forget_cancellations()
        # Last, so a failure can never happen after the demand is out (it would double it).
        await self._ask_for_work()
        return None

    async def on_failure(self, exc: Exception) -> None:
        """Retries the job this validator held, so the crash (or a stop nobody asked for)
        loses no job."""
        if self._delivery is not None:
            delivery, self._delivery = self._delivery, None
            with log_context(job_id=delivery.job_id):
                log.error(
                    "validator %s crashed on job %s; retrying it", self.ref.name, delivery.job_id
                )
                await settle(
                    delivery,
                    Retry(f"validator crashed: {exc!r}", delay_s=constants.JOB_RETRY_DELAY_S),
                )

    async def _ask_for_work(self) -> None:
        try:
            await self._consumer.tell(ValidatorReady(self.ref))
        except ActorStopped:
            pass  # the pool is shutting down: no more work for anyone

"""The validator pool: one consumer actor and `size` validator actors under one supervisor,
fed by one consumer of the job queue with `prefetch=size`.

    async with validator_pool(queue, handler, size=2, job_time_limit_s=1200,
                              shutdown_grace_s=25) as pool:
        await pool.wait_failed()     # returns only if the supervisor gave up: exit non-zero

Leaving the block is the decision to stop: it is recorded in the pool's `StopDecision`
(which the job handler may share, to tell a shutdown from a fault), then the pool stops
taking deliveries, lets running jobs finish for at most `shutdown_grace_s`, and cancels the
rest; their deliveries go back to the queue unsettled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from luna.actors.consumer import Consumer
from luna.actors.supervisor import ChildSpec, RestartPolicy, Supervisor, SupervisorEscalated
from luna.actors.validator import JobHandler, RunningJobs, Validator
from luna.queue.base import Deliveries, JobQueue
from luna.tasks import StopDecision

log = logging.getLogger("luna.actors")

CONSUMER_ID = "consumer"
# An actor bug that repeats this often this fast will not go away by restarting in-process;
# a fresh pod (new connections, new memory) is the next thing to try.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


class ValidatorPool:
    """What the process sees of its validators."""

    def __init__(self, supervisor: Supervisor | None, running: RunningJobs, *, size: int) -> None:
        self._supervisor = supervisor
        self._running = running
        self.size = size

    @property
    def active_jobs(self) -> int:
        """Jobs being run right now."""
        return self._running.count

    @property
    def live_validators(self) -> int:
        """Validators running now; fewer than `size` while some wait to be restarted."""
        if self._supervisor is None:
            return 0
        return sum(self._supervisor.alive(_validator_id(i)) for i in range(self.size))

    @property
    def restarts(self) -> int:
        """Actors restarted after a crash so far (a metric worth alerting on)."""
        return 0 if self._supervisor is None else self._supervisor.total_restarts

    async def wait_failed(self) -> SupervisorEscalated:
        """Return once the supervisor escalated (never, for a pool of size 0)."""
        if self._supervisor is None:
            await asyncio.Event().wait()
        assert self._supervisor is not None
        return await self._supervisor.wait_failed()


def _validator_id(index: int) -> str:
    return f"validator-{index}"


def _build_supervisor(
    deliveries: Deliveries,
    handler: JobHandler,
    running: RunningJobs,
    *,
    size: int,
    job_time_limit_s: float,
) -> Supervisor:
    supervisor = Supervisor(name="validators", max_restarts=MAX_RESTARTS, within_s=RESTART_WINDOW_S)
    # Room for every validator's demand, so an idle validator never waits to say so.
    consumer = supervisor.add_child(
        ChildSpec(CONSUMER_ID, partial(Consumer, deliveries), mailbox_size=size)
    )
    for index in range(size):
        supervisor.add_child(
            ChildSpec(
                _validator_id(index),
                partial(
                    Validator,
                    handler=handler,
                    consumer=consumer,
                    job_time_limit_s=job_time_limit_s,
                    running=running,
                ),
                restart=RestartPolicy.PERMANENT,
                # One job at a time: a second waits in the queue, where another pod can take it.
                mailbox_size=1,
            )
        )
    return supervisor


async def _drain(
    supervisor: Supervisor, deliveries: Deliveries, running: RunningJobs, *, grace_s: float
) -> None:
    await supervisor.terminate_child(CONSUMER_ID)
    await deliveries.stop()
    if running.count:
        log.info("waiting up to %.0f s for %d running job(s)", grace_s, running.count)
    try:
        async with asyncio.timeout(grace_s):
            await running.wait_idle()
    except TimeoutError:
        log.warning(
            "%d job(s) still running after %.0f s; cancelling them (they will run again)",
            running.count,
            grace_s,
        )


@asynccontextmanager
async def validator_pool(
    queue: JobQueue,
    handler: JobHandler,
    *,
    size: int,
    job_time_limit_s: float,
    shutdown_grace_s: float,
    stop: StopDecision | None = None,
) -> AsyncIterator[ValidatorPool]:
    """Run `size` validators on jobs from `queue`, each job through `handler(job_id)`.

    `size=0` consumes nothing (an API-only replica). See the module docstring for shutdown.
    """
    if size < 0:
        raise ValueError("size must be >= 0")
    stop = stop or StopDecision()
    running = RunningJobs()
    if size == 0:
        yield ValidatorPool(None, running, size=0)
        return
    async with queue.consume(prefetch=size) as deliveries:
        supervisor = _build_supervisor(
            deliveries, handler, running, size=size, job_time_limit_s=job_time_limit_s
        )
        async with supervisor.running():
            try:
                yield ValidatorPool(supervisor, running, size=size)
            finally:
                stop.decide()
                await _drain(supervisor, deliveries, running, grace_s=shutdown_grace_s)

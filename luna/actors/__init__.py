"""luna's actors: a small runtime (`runtime`), a supervisor, and the validator pool that runs
validation jobs from the queue.

    async with validator_pool(queue, handler, size=2, job_time_limit_s=1200,
                              shutdown_grace_s=25) as pool:
        await pool.wait_failed()
"""

from luna.actors.pool import ValidatorPool, validator_pool
from luna.actors.runtime import Actor, ActorRef, ActorStopped, spawn
from luna.actors.supervisor import ChildSpec, RestartPolicy, Supervisor, SupervisorEscalated
from luna.actors.validator import JobHandler

__all__ = [
    "Actor",
    "ActorRef",
    "ActorStopped",
    "ChildSpec",
    "JobHandler",
    "RestartPolicy",
    "Supervisor",
    "SupervisorEscalated",
    "ValidatorPool",
    "spawn",
    "validator_pool",
]

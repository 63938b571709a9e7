"""A validation job's life, from its message to its end: claim it (an attempt counted), keep
a heartbeat while it runs, settle it completed or failed-with-reason exactly once, sweep up
jobs whose validator or message was lost, and tell waiting clients what changed.

    runner = ValidationJobRunner(db=pool, store=store, metrics=metrics, worker="pod-1")
    await runner(job_id)                      # the validator pool's job handler
    await republish_lost_jobs(db, queue)      # the periodic sweep
    async with job_events(database_url) as events: await events.wait(job_id, timeout_s=2)

`validation/` stays pure; this room does the I/O around it.
"""

from luna.jobs.events import JobEvents, job_events
from luna.jobs.runner import ValidationJobRunner, validation_threads
from luna.jobs.sweeps import republish_lost_jobs

__all__ = [
    "JobEvents",
    "ValidationJobRunner",
    "job_events",
    "republish_lost_jobs",
    "validation_threads",
]

"""The heartbeat and the sweep: a job reaches an end even when its message is lost, and a job
whose validator is alive is never handed to a second one.

luna runs with a short heartbeat, stale bound and reconcile interval, so the sweep acts within
seconds instead of minutes.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from support import upload

from faults.conftest import BROKEN_PNG

HEARTBEAT_S = 0.2
STALE_S = 1.5
RECONCILE_S = 0.3
SHORT_SWEEP = {
    "luna_heartbeat_interval_s": HEARTBEAT_S,
    "luna_heartbeat_stale_s": STALE_S,
    "luna_reconcile_interval_s": RECONCILE_S,
}


async def test_a_processing_job_whose_message_was_lost_is_republished_and_ends_once(faulty_luna):
    luna = await faulty_luna(**SHORT_SWEEP)
    dataset_id = await luna.submit(files=20, complete=False)
    # What a worker that claimed the job and then died leaves behind, with its message gone
    # for good (acknowledged, or lost with the broker): nothing on the queue will bring it back.
    await luna.db.execute(
        "UPDATE datasets SET status = 'validating', updated_at = now() WHERE id = $1", dataset_id
    )
    await luna.db.execute(
        "INSERT INTO validation_jobs (id, status, attempts, files_total, worker, created_at, "
        "  published_at, started_at, heartbeat_at) "
        "VALUES ($1, 'processing', 1, 20, 'crashed-worker', now() - interval '5 minutes', "
        "  now() - interval '5 minutes', now() - interval '5 minutes', "
        "  now() - interval '5 minutes')",
        dataset_id,
    )
    luna.submitted.append(dataset_id)
    started = time.monotonic()

    status = await luna.wait_settled(dataset_id, timeout_s=15)
    took_s = time.monotonic() - started
    assert status["status"] == "completed", status
    job = await luna.db.fetchrow(
        "SELECT attempts, worker FROM validation_jobs WHERE id = $1", dataset_id
    )
    assert job["attempts"] == 2, dict(job)  # the dead worker's claim, then the sweep's
    assert job["worker"] != "crashed-worker", dict(job)
    assert took_s < 10, f"the sweep took {took_s:.1f} s to bring the job to an end"
    # Sweeps keep running after the end: a settled job is never taken again.
    await asyncio.sleep(STALE_S + 3 * RECONCILE_S)
    assert (
        await luna.db.fetchval("SELECT attempts FROM validation_jobs WHERE id = $1", dataset_id)
        == 2
    )
    await luna.assert_every_job_ended_once(timeout_s=30)


async def test_a_job_whose_heartbeat_is_fresh_is_not_republished(
    faulty_luna, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="luna.jobs")
    luna = await faulty_luna(s3=True, **SHORT_SWEEP)
    assert luna.s3 is not None
    # One large file read through a slowed store: the job writes no progress until the file
    # is read, so only the heartbeat keeps it fresh past the stale bound while the sweep looks
    # at it many times.
    big = BROKEN_PNG + bytes(2 * 1024 * 1024)
    dataset_id = await upload(luna.client, luna.headers, {"big.png": big}, complete=False)
    luna.s3.slow(delay_ms=150)
    await luna.complete(dataset_id)
    status = await luna.wait_settled(dataset_id, timeout_s=30)
    luna.s3.heal()
    assert status["status"] == "completed", status
    job = await luna.db.fetchrow(
        "SELECT attempts, extract(epoch FROM completed_at - started_at) AS ran_s "
        "FROM validation_jobs WHERE id = $1",
        dataset_id,
    )
    # Without this the test could not fail: a job shorter than the bound is never stale.
    ran_s = float(job["ran_s"])
    assert ran_s > 2 * STALE_S + RECONCILE_S, f"the job ran only {ran_s:.1f} s"
    republished = [r for r in caplog.records if r.getMessage() == f"republished job {dataset_id}"]
    assert not republished, f"a live job was published again {len(republished)} times"
    assert job["attempts"] == 1, f"a live job was handed out again: {dict(job)}"
    await luna.assert_every_job_ended_once(timeout_s=30)

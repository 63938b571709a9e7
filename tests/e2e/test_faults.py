"""Faults survived: a worker killed mid-job, a broker that refused a publish."""

from __future__ import annotations

import asyncio
import signal
import socket
import time

from support import login, upload, wait_for_consumers, wait_for_status

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000


async def wait_for(predicate, *, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_worker_killed_mid_job_leaves_no_stuck_job(
    make_client, make_settings, add_account, workers, amqp_url, queue_name, db
):
    settings = make_settings(luna_validators=1)
    first, second = workers.start(settings), workers.start(settings)
    names = {f"{socket.gethostname()}-{p.pid}": p for p in (first, second)}
    client = await make_client(luna_validators=0)
    await wait_for_consumers(amqp_url, queue_name, 2)
    account = await add_account("alice", team="red")
    headers = await login(client, account)
    # Many files make a job long enough to be caught mid-way.
    files = {f"img{i:04d}.png": PNG for i in range(400)}
    dataset_id = await upload(client, headers, files)

    async def running_somewhere():
        row = await db.fetchrow(
            "SELECT worker, files_done FROM validation_jobs WHERE id = $1 AND status = 'processing'",
            dataset_id,
        )
        return row if row and row["files_done"] > 0 else None

    row = await wait_for(running_somewhere, timeout_s=60, what="the job to make progress")
    victim = names[row["worker"]]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert row["files_done"] < len(files), "the job finished before the kill; make it longer"

    status = await wait_for_status(client, dataset_id, headers, timeout_s=90)
    assert status["status"] == "completed", status
    job = await db.fetchrow(
        "SELECT attempts, worker FROM validation_jobs WHERE id = $1", dataset_id
    )
    assert job["attempts"] == 2
    assert job["worker"] != row["worker"]
    finished = await db.fetchval(
        "SELECT count(*) FROM validation_logs WHERE job_id = $1 AND message LIKE 'validation finished%'",
        dataset_id,
    )
    assert finished == 1
    assert status["progress"]["files_done"] == len(files)


async def test_a_job_committed_while_the_broker_refused_it_is_published_later(
    make_client, add_account, db
):
    from luna.http.keys import QUEUE
    from luna.jobs import republish_lost_jobs

    account = await add_account("alice", team="red")
    client = await make_client(luna_validators=1)
    headers = await login(client, account)
    dataset_id = await upload(client, headers, {"a.png": PNG}, complete=False)
    # As if the publish after commit had failed: the job row exists, the message does not.
    await db.execute("UPDATE datasets SET status = 'queued' WHERE id = $1", dataset_id)
    await db.execute(
        "INSERT INTO validation_jobs (id, files_total, created_at) VALUES ($1, 1, now() - interval '1 minute')",
        dataset_id,
    )
    await republish_lost_jobs(db, client.app[QUEUE])
    status = await wait_for_status(client, dataset_id, headers, timeout_s=30)
    assert status["status"] == "completed"


async def test_sigterm_drains_a_worker_and_the_job_still_finishes_once(
    make_client, make_settings, add_account, workers, amqp_url, queue_name, db
):
    settings = make_settings(luna_validators=1)
    worker = workers.start(settings, LUNA_SHUTDOWN_GRACE_S="1")
    client = await make_client(luna_validators=1)
    await wait_for_consumers(amqp_url, queue_name, 2)
    account = await add_account("alice", team="red")
    headers = await login(client, account)
    name = f"{socket.gethostname()}-{worker.pid}"
    dataset_ids = [
        await upload(client, headers, {f"img{i:04d}.png": PNG for i in range(300)}, name=f"d{n}")
        for n in range(2)
    ]

    async def running_on_worker():
        return await db.fetchval(
            "SELECT id FROM validation_jobs WHERE worker = $1 AND status = 'processing'", name
        )

    await wait_for(running_on_worker, timeout_s=60, what="the worker to take a job")
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 30) == 0, workers.log_of(worker)[-3000:]
    assert "draining" in workers.log_of(worker)
    for dataset_id in dataset_ids:
        status = await wait_for_status(client, dataset_id, headers, timeout_s=90)
        assert status["status"] == "completed", status
    finished = await db.fetch(
        "SELECT job_id, count(*) AS n FROM validation_logs "
        "WHERE message LIKE 'validation finished%' GROUP BY job_id"
    )
    assert {r["job_id"]: r["n"] for r in finished} == {i: 1 for i in dataset_ids}


async def test_a_database_blip_mid_job_does_not_lose_or_repeat_it(
    make_client, add_account, db, migrated_database
):
    account = await add_account("alice", team="red")
    client = await make_client(luna_validators=1)
    headers = await login(client, account)
    dataset_id = await upload(client, headers, {f"img{i:04d}.png": PNG for i in range(300)})

    async def processing():
        return await db.fetchval(
            "SELECT files_done > 0 FROM validation_jobs WHERE id = $1 AND status = 'processing'",
            dataset_id,
        )

    await wait_for(processing, timeout_s=60, what="the job to make progress")
    # Every other connection to this database is cut, as a failover or restart would.
    database = migrated_database.rsplit("/", 1)[1]
    async with db.acquire() as conn:
        cut = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    assert cut > 0
    status = await wait_for_status(client, dataset_id, headers, timeout_s=90)
    assert status["status"] == "completed", status
    assert status["progress"]["files_done"] == 300
    finished = await db.fetchval(
        "SELECT count(*) FROM validation_logs WHERE job_id = $1 AND message LIKE 'validation finished%'",
        dataset_id,
    )
    assert finished == 1

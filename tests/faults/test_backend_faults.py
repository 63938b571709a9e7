"""PostgreSQL and RabbitMQ breaking while jobs run."""

from __future__ import annotations

import asyncio

from faults.conftest import wait_for


async def test_postgresql_severed_four_times_with_queries_in_flight(faulty_luna):
    luna = await faulty_luna(pg=True, luna_job_retry_delay_s=0.5)
    assert luna.pg is not None
    dataset_ids = [await luna.submit(files=60, complete=False) for _ in range(4)]
    luna.pg.slow(delay_ms=15)  # a slowed link keeps queries in flight when the cut comes
    for dataset_id in dataset_ids:
        await luna.complete(dataset_id)
    for round_no in range(4):

        async def some_job_running() -> bool:
            return bool(
                await luna.db.fetchval(
                    "SELECT count(*) FROM validation_jobs "
                    "WHERE status = 'processing' AND files_done > 0"
                )
            )

        await wait_for(some_job_running, timeout_s=60, what=f"a job to run (round {round_no})")
        assert luna.pg.sever() > 0
        await asyncio.sleep(0.5)
    luna.pg.heal()
    for dataset_id in dataset_ids:
        await luna.wait_settled(dataset_id, timeout_s=90)
    assert luna.pg.severed >= 4
    await luna.assert_every_job_ended_once()


async def test_rabbitmq_paused_30_s_while_20_datasets_complete(faulty_luna):
    luna = await faulty_luna(amqp=True)
    assert luna.amqp is not None
    dataset_ids = [await luna.submit(files=10, complete=False) for _ in range(20)]
    for dataset_id in dataset_ids:
        await luna.complete(dataset_id)

    async def some_taken() -> bool:
        taken = await luna.db.fetchval(
            "SELECT count(*) FROM validation_jobs WHERE status <> 'pending'"
        )
        return 0 < taken < len(dataset_ids)

    await wait_for(some_taken, timeout_s=60, what="validators to be part-way through")
    luna.amqp.pause()
    await asyncio.sleep(30)
    luna.amqp.resume()
    statuses = [await luna.wait_settled(i, timeout_s=90) for i in dataset_ids]
    assert all(s["status"] == "completed" for s in statuses), statuses
    await luna.assert_every_job_ended_once()

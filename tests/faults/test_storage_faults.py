"""S3 breaking mid-job: outages that pass, a download cut short, an outage that does not pass."""

from __future__ import annotations

import asyncio

# A 12 s outage is what a MinIO restart or a load balancer's failover looks like.
OUTAGE_S = 12.0


async def test_s3_answering_500_for_12_s_mid_job_three_rounds_in_a_row(faulty_luna):
    luna = await faulty_luna(s3=True)
    assert luna.s3 is not None
    for round_no in range(3):
        dataset_id = await luna.submit(files=80, name=f"round{round_no}")
        await luna.wait_running(dataset_id)
        luna.s3.answer_http_500()
        await asyncio.sleep(OUTAGE_S)
        luna.s3.heal()
        # Retries back off 5 s then 10 s: the third attempt comes after the outage.
        status = await luna.wait_settled(dataset_id, timeout_s=60)
        assert status["status"] == "completed", status
    assert luna.s3.answered_500 > 0
    await luna.assert_every_job_ended_once()


async def test_one_s3_response_cut_mid_object(faulty_luna):
    luna = await faulty_luna(s3=True)
    assert luna.s3 is not None
    dataset_id = await luna.submit(files=80)
    await luna.wait_running(dataset_id)
    luna.s3.cut_next_response(after_bytes=len(b"HTTP/1.1 200 OK") + 1000)
    status = await luna.wait_settled(dataset_id, timeout_s=60)
    assert luna.s3.cut == 1
    assert status["status"] == "completed", status
    await luna.assert_every_job_ended_once()


async def test_s3_refusing_longer_than_every_attempt_fails_the_job_with_the_reason(faulty_luna):
    luna = await faulty_luna(s3=True, luna_job_retry_delay_s=0.2)
    assert luna.s3 is not None
    dataset_id = await luna.submit(files=80)
    await luna.wait_running(dataset_id)
    await luna.s3.refuse()
    status = await luna.wait_settled(dataset_id, timeout_s=60)
    await luna.s3.accept()
    assert status["status"] == "failed", status
    assert "storage unreachable" in status["error_message"]
    assert "after 3 attempts" in status["error_message"]
    assert (
        await luna.db.fetchval("SELECT attempts FROM validation_jobs WHERE id = $1", dataset_id)
        == 3
    )
    await luna.assert_every_job_ended_once()

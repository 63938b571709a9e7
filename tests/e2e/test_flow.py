"""The whole flow, end to end: login, start, PUT to S3, complete, validate, status."""

from __future__ import annotations

import socket

from prometheus_client.parser import text_string_to_metric_families
from support import login, upload, wait_for_consumers, wait_for_status

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
MANIFEST = b"filename,patient_id,label\na.png,p001,No Finding\n"


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples by name and labels; counters under their own name (the parser adds _total)."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = family.name if family.type == "counter" else sample.name
            samples[(name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


async def test_a_dataset_goes_from_upload_to_verdict(start_service):
    service = await start_service(luna_validators=2)
    client = service.client
    account = await service.add_account("alice", team="red")
    headers = await login(client, account)
    before = metric_samples(await (await client.get("/metrics")).text())

    dataset_id = await upload(client, headers, {"manifest.csv": MANIFEST, "a.png": PNG})
    status = await wait_for_status(client, dataset_id, headers)

    assert status["status"] == "completed", status
    assert status["dataset_id"] == status["validation_job_id"] == dataset_id
    assert status["progress"] == {"files_done": 2, "files_total": 2}
    results = status["validation_results"]
    assert results["ruleset"] == "luna2025-xray-v1"
    assert results["verdict"] in ("accepted", "rejected")
    assert {f["filename"] for f in results["files"]} == {"manifest.csv", "a.png"}
    assert any("finished" in entry["message"] for entry in status["validation_logs"])
    assert status["started_at"] and status["completed_at"]

    after = metric_samples(await (await client.get("/metrics")).text())
    assert total(after, "http_requests") > total(before, "http_requests")
    assert (
        total(after, "validation_duration_seconds_count")
        == total(before, "validation_duration_seconds_count") + 1
    )
    assert total(after, "s3_upload_count") >= total(before, "s3_upload_count") + 2
    assert total(after, "s3_upload_bytes") >= total(before, "s3_upload_bytes") + len(PNG)


async def test_missing_and_resized_files_are_reported_by_rule_and_file(start_service):
    service = await start_service(luna_validators=1)
    client = service.client
    account = await service.add_account("alice", team="red")
    headers = await login(client, account)
    # The embedded store refuses a body of another length at PUT (its URLs sign the length);
    # moto, like some S3 look-alikes, stores it, and validation must catch it.
    resized = service.kind == "real"
    declared = [
        {"filename": "manifest.csv", "content_type": "text/csv", "size_bytes": len(MANIFEST)},
        {"filename": "a.png", "content_type": "image/png", "size_bytes": len(PNG) + 5 * resized},
        {"filename": "never.png", "content_type": "image/png", "size_bytes": 10},
    ]
    dataset_id = await upload(
        client, headers, {"manifest.csv": MANIFEST, "a.png": PNG}, declared=declared
    )
    status = await wait_for_status(client, dataset_id, headers)
    assert status["status"] == "completed"
    results = status["validation_results"]
    assert results["verdict"] == "rejected"
    found = {(f["rule"], f["file"]) for f in results["findings"]}
    assert ("upload.missing", "never.png") in found
    assert (("upload.size_mismatch", "a.png") in found) == resized

    page = await (
        await client.get(
            f"/api/v1/validation/{dataset_id}/findings",
            params={"rule": "upload.missing"},
            headers=headers,
        )
    ).json()
    assert page["total"] == 1
    assert page["items"][0]["file"] == "never.png"


async def test_serve_and_two_workers_share_the_queue_and_finish_each_job_once(
    make_client, make_settings, add_account, workers, amqp_url, queue_name, db
):
    settings = make_settings(luna_validators=1)
    procs = [workers.start(settings), workers.start(settings)]
    client = await make_client(luna_validators=1)
    await wait_for_consumers(amqp_url, queue_name, 3)
    account = await add_account("alice", team="red")
    headers = await login(client, account)

    files = {"manifest.csv": MANIFEST} | {f"img{i}.png": PNG for i in range(30)}
    ids = [await upload(client, headers, files, name=f"d{n}") for n in range(9)]
    for dataset_id in ids:
        status = await wait_for_status(client, dataset_id, headers, timeout_s=90)
        assert status["status"] == "completed", status

    rows = await db.fetch("SELECT id, attempts, worker FROM validation_jobs ORDER BY id")
    assert [r["id"] for r in rows] == ids
    assert all(r["attempts"] == 1 for r in rows), [dict(r) for r in rows]
    finished = await db.fetch(
        "SELECT job_id, count(*) AS n FROM validation_logs "
        "WHERE message LIKE 'validation finished%' GROUP BY job_id"
    )
    assert {r["job_id"]: r["n"] for r in finished} == {i: 1 for i in ids}
    by_worker = {r["worker"] for r in rows}
    worker_names = {f"{socket.gethostname()}-{p.pid}" for p in procs}
    assert worker_names <= by_worker, (by_worker, [workers.log_of(p)[-2000:] for p in procs])

"""What was validated is what is kept. Once a dataset is completed its stored objects cannot
change unseen: the embedded store refuses PUTs (whole or in parts, even one that began before
`complete`); on S3, `complete` records each object's ETag, validation reads exactly that
version (a replaced object fails the job with a reason), and `GET /api/v1/datasets/{id}`
names objects changed since."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from factories import CLEAN
from support import login, wait_for_status

from luna.http.keys import DB, METRICS, STORE
from luna.jobs import ValidationJobRunner

SPEC = CLEAN["clean-png"]
MiB = 1024 * 1024


async def start(client: Any, headers: dict[str, str], declared: list[dict[str, Any]]) -> Any:
    response = await client.post(
        "/api/v1/upload/start", json={"dataset_name": "kept", "files": declared}, headers=headers
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def put(entry: dict[str, Any], body: Any, *, headers: dict[str, str] | None = None) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.put(entry["upload_url"], data=body, headers=headers or entry["headers"]) as r,
    ):
        await r.read()
        return r.status


async def put_all(started: dict[str, Any], stored: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    entries = {e["filename"]: e for e in started["upload_urls"]}
    for name, data in stored.items():
        assert await put(entries[name], data) == 200
    return entries


async def complete(client: Any, headers: dict[str, str], dataset_id: int) -> None:
    response = await client.post(
        "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=headers
    )
    assert response.status == 200, await response.text()


async def read(store: Any, key: str) -> bytes:
    return b"".join([c async for c in store.stream(key, chunk_bytes=MiB)])


def another_image(name: str) -> bytes:
    """Other bytes of the same length: a later PUT with the original URL passes its checks."""
    original = SPEC.stored[name]
    return bytes(b ^ 0xFF for b in original[:8]) + original[8:]


async def detail(client: Any, headers: dict[str, str], dataset_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/datasets/{dataset_id}", headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


# ---------------------------------------------------------------- the embedded store


@pytest.mark.parametrize("start_service", ["embedded"], indirect=True)
async def test_embedded_store_refuses_puts_once_completed(start_service: Any) -> None:
    service = await start_service(luna_validators=1)
    client = service.client
    headers = await login(client, await service.add_account("alice", team="red"))
    started = await start(client, headers, SPEC.declared)
    entries = await put_all(started, SPEC.stored)
    image = next(name for name in SPEC.stored if name.endswith(".png"))
    # While uploading, a file may be sent again.
    assert await put(entries[image], SPEC.stored[image]) == 200
    await complete(client, headers, started["dataset_id"])
    status = await wait_for_status(client, started["dataset_id"], headers)
    assert status["validation_results"]["verdict"] == "accepted"

    refused = await put(entries[image], another_image(image))
    assert refused == 409
    store = client.app[STORE]
    assert await read(store, entries[image]["s3_key"]) == SPEC.stored[image]
    body = await detail(client, headers, started["dataset_id"])
    assert body["objects_changed"] == [] and body["objects_changed_total"] == 0


@pytest.mark.parametrize("start_service", ["embedded"], indirect=True)
async def test_embedded_put_begun_before_complete_cannot_land_after_it(
    start_service: Any,
) -> None:
    service = await start_service(luna_validators=0)
    client = service.client
    headers = await login(client, await service.add_account("alice", team="red"))
    started = await start(client, headers, SPEC.declared)
    entries = await put_all(started, SPEC.stored)
    image = next(name for name in SPEC.stored if name.endswith(".png"))
    replacement = another_image(image)
    halfway, go_on = asyncio.Event(), asyncio.Event()

    async def slow_body() -> Any:
        yield replacement[:100]
        halfway.set()
        await go_on.wait()
        yield replacement[100:]

    late = asyncio.create_task(put(entries[image], slow_body()))
    await halfway.wait()
    await complete(client, headers, started["dataset_id"])
    go_on.set()
    assert await late == 409
    assert await read(client.app[STORE], entries[image]["s3_key"]) == SPEC.stored[image]


@pytest.mark.parametrize("start_service", ["embedded"], indirect=True)
async def test_embedded_store_refuses_parts_once_completed(start_service: Any) -> None:
    service = await start_service(
        luna_validators=0, luna_multipart_threshold_bytes=6 * MiB, luna_multipart_part_bytes=5 * MiB
    )
    client = service.client
    headers = await login(client, await service.add_account("alice", team="red"))
    big = bytes(range(256)) * (7 * MiB // 256)
    started = await start(
        client,
        headers,
        [
            {
                "filename": "big.bin",
                "content_type": "application/octet-stream",
                "size_bytes": len(big),
            }
        ],
    )
    dataset_id, entry = started["dataset_id"], started["upload_urls"][0]
    asked = await client.post(
        "/api/v1/upload/parts",
        json={"dataset_id": dataset_id, "file_id": entry["file_id"], "part_numbers": [1, 2]},
        headers=headers,
    )
    assert asked.status == 200, await asked.text()
    parts = (await asked.json())["parts"]
    for part, body in zip(parts, (big[: 5 * MiB], big[5 * MiB :]), strict=True):
        assert await put(part, body) == 200
    await complete(client, headers, dataset_id)
    store = client.app[STORE]
    assert await read(store, entry["s3_key"]) == big

    # Old part URLs and the whole-file URL alike are refused, and nothing changed.
    assert await put(parts[0], b"\x00" * (5 * MiB)) == 409
    assert await put(entry, b"\x00" * len(big)) == 409
    assert await read(store, entry["s3_key"]) == big


# ---------------------------------------------------------------- S3


async def run_job(client: Any, job_id: int) -> None:
    runner = ValidationJobRunner(
        db=client.app[DB], store=client.app[STORE], metrics=client.app[METRICS], worker="test"
    )
    await runner(job_id)


async def test_s3_validation_reads_the_version_recorded_at_complete(
    make_client: Any, add_account: Any, db: Any
) -> None:
    client = await make_client(luna_validators=0)
    headers = await login(client, await add_account("alice", team="red"))
    started = await start(client, headers, SPEC.declared)
    dataset_id = started["dataset_id"]
    entries = await put_all(started, SPEC.stored)
    await complete(client, headers, dataset_id)
    recorded = dict(
        await db.fetch("SELECT filename, etag FROM dataset_files WHERE dataset_id = $1", dataset_id)
    )
    assert all(recorded.values()), recorded

    # Replaced after complete, before a validator reads it: the job fails with a reason.
    image = next(name for name in SPEC.stored if name.endswith(".png"))
    assert await put(entries[image], another_image(image)) == 200
    await run_job(client, dataset_id)
    status = await wait_for_status(client, dataset_id, headers)
    assert status["status"] == "failed"
    assert image in status["error_message"] and "changed" in status["error_message"]
    body = await detail(client, headers, dataset_id)
    assert body["objects_changed"] == [{"filename": image, "change": "replaced"}]


async def test_s3_changes_after_validation_are_reported(make_client: Any, add_account: Any) -> None:
    client = await make_client(luna_validators=0)
    headers = await login(client, await add_account("alice", team="red"))
    declared = [
        *SPEC.declared,
        {"filename": "late.png", "content_type": "image/png", "size_bytes": 8},
    ]
    started = await start(client, headers, declared)
    dataset_id = started["dataset_id"]
    entries = await put_all(started, SPEC.stored)
    await complete(client, headers, dataset_id)
    await run_job(client, dataset_id)
    status = await wait_for_status(client, dataset_id, headers)
    assert status["status"] == "completed"
    assert any(
        f["rule"] == "upload.missing" and f["file"] == "late.png"
        for f in status["validation_results"]["findings"]
    )
    body = await detail(client, headers, dataset_id)
    assert body["objects_recorded_at"] is not None
    assert (body["objects_changed"], body["objects_changed_total"]) == ([], 0)

    image, other = [name for name in SPEC.stored if name.endswith(".png")][:2]
    assert await put(entries[image], another_image(image)) == 200
    await client.app[STORE].delete(entries[other]["s3_key"])
    assert await put(entries["late.png"], b"\x89PNG\r\n\x1a\n") == 200
    body = await detail(client, headers, dataset_id)
    assert body["objects_changed_total"] == 3
    assert sorted(body["objects_changed"], key=lambda c: c["filename"]) == sorted(
        [
            {"filename": image, "change": "replaced"},
            {"filename": other, "change": "removed"},
            {"filename": "late.png", "change": "added"},
        ],
        key=lambda c: c["filename"],
    )
    # Another team never learns of it.
    blue = await login(client, await add_account("bob", team="blue"))
    assert (await client.get(f"/api/v1/datasets/{dataset_id}", headers=blue)).status == 404

"""A 300 MiB file through luna's API with the default part size (16 MiB, 19 parts): sent halfway,
interrupted, resumed by asking which parts arrived, completed and validated. Every PUT is
counted: the resumed client sends exactly the missing parts, and no part travels twice."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from multipart.parts_support import Api, GeneratedFile
from support import login, wait_for_status

MiB = 1024 * 1024
PARTS = "/api/v1/upload/parts"
MANIFEST = b"filename,patient_id,label\n"
SIZE_BYTES = 300 * MiB
# Reading 300 MiB back through the validator and hashing it takes a while on two cores.
VALIDATION_LIMIT_S = 300.0


async def ask_part_urls(
    api: Api, headers: dict[str, str], dataset_id: int, file_id: int, numbers: list[int]
) -> list[dict[str, Any]]:
    body = {"dataset_id": dataset_id, "file_id": file_id, "part_numbers": numbers}
    response = await api.client.post(PARTS, json=body, headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["parts"]  # type: ignore[no-any-return]


async def send(api: Api, big: GeneratedFile, parts: list[dict[str, Any]]) -> list[int]:
    sent = []
    for part in parts:
        number = part["part_number"]
        status, _ = await api.sender.put(part["upload_url"], part["headers"], big.part(number))
        assert status == 200
        sent.append(number)
    return sent


@pytest.mark.slow
async def test_a_300_mib_file_resumes_without_resending_finished_parts(
    make_api: Any, add_account: Any
) -> None:
    api: Api = await make_api(luna_validators=1)
    headers = await login(api.client, await add_account("alice", team="red"))
    big = GeneratedFile(seed="300MiB", size_bytes=SIZE_BYTES, part_size_bytes=16 * MiB)
    big_sha256 = big.sha256()
    files = [
        {
            "filename": "scans/big.bin",
            "content_type": "application/octet-stream",
            "size_bytes": SIZE_BYTES,
            "sha256": big_sha256,
        },
        {
            "filename": "manifest.csv",
            "content_type": "text/csv",
            "size_bytes": len(MANIFEST),
            "sha256": hashlib.sha256(MANIFEST).hexdigest(),
        },
    ]
    response = await api.client.post(
        "/api/v1/upload/start", json={"dataset_name": "large", "files": files}, headers=headers
    )
    assert response.status == 200, await response.text()
    started = await response.json()
    dataset_id = started["dataset_id"]
    entries = {e["filename"]: e for e in started["upload_urls"]}
    manifest, large = entries["manifest.csv"], entries["scans/big.bin"]
    assert (await api.sender.put(manifest["upload_url"], manifest["headers"], MANIFEST))[0] == 200
    assert large["multipart"] == {"part_size_bytes": 16 * MiB, "parts": 19}
    parts_total = large["multipart"]["parts"]

    # The first client asks for every URL, sends half the parts, and is interrupted.
    urls = await ask_part_urls(api, headers, dataset_id, large["file_id"], list(range(1, 20)))
    first_run = await send(api, big, urls[: parts_total // 2])
    assert first_run == list(range(1, 10))

    # A new client resumes: it asks what arrived and sends only the rest.
    listed_response = await api.client.get(
        PARTS, params={"dataset_id": dataset_id, "file_id": large["file_id"]}, headers=headers
    )
    assert listed_response.status == 200
    listed = await listed_response.json()
    assert (listed["parts_total"], listed["part_size_bytes"]) == (19, 16 * MiB)
    arrived = {p["part_number"] for p in listed["parts"]}
    assert arrived == set(first_run)
    missing = [n for n in range(1, parts_total + 1) if n not in arrived]
    puts_before = api.sender.puts
    second_run = await send(
        api, big, await ask_part_urls(api, headers, dataset_id, large["file_id"], missing)
    )
    assert api.sender.puts - puts_before == len(missing) == parts_total - len(first_run) == 10
    assert sorted(first_run + second_run) == list(range(1, parts_total + 1))

    response = await api.client.post(
        "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=headers
    )
    assert response.status == 200, await response.text()
    status = await wait_for_status(api.client, dataset_id, headers, timeout_s=VALIDATION_LIMIT_S)
    assert status["status"] == "completed"
    findings = status["validation_results"]["findings"]
    assert not [f for f in findings if f["rule"].startswith("upload.")]
    reported = next(
        f for f in status["validation_results"]["files"] if f["filename"] == "scans/big.bin"
    )
    assert (reported["size_bytes"], reported["sha256"]) == (SIZE_BYTES, big_sha256)

    info = await api.store.head(large["s3_key"])
    assert info is not None and info.size_bytes == SIZE_BYTES
    digest = hashlib.sha256()
    async for chunk in api.store.stream(large["s3_key"], chunk_bytes=4 * MiB):
        digest.update(chunk)
    assert digest.hexdigest() == big_sha256

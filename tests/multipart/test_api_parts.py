"""The part routes and the multipart flow through luna's API, on S3 and on the embedded store:
files over 6 MiB go in 5 MiB parts here, so a 12 MiB file has 3 parts."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from multipart.parts_support import (
    Api,
    GeneratedFile,
    MiB,
    big_file,
    entry,
    start_large_dataset,
)
from support import login, wait_for_status

from luna.errors import NotFound

PARTS = "/api/v1/upload/parts"

pytestmark = pytest.mark.usefixtures("small_parts")


async def part_urls(
    api: Api, headers: dict[str, str], started: dict[str, Any], numbers: list[int]
) -> list[dict[str, Any]]:
    body = {
        "dataset_id": started["dataset_id"],
        "file_id": entry(started, "big.bin")["file_id"],
        "part_numbers": numbers,
    }
    response = await api.client.post(PARTS, json=body, headers=headers)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["expires_in"] > 0
    assert (answer["dataset_id"], answer["file_id"]) == (body["dataset_id"], body["file_id"])
    return answer["parts"]  # type: ignore[no-any-return]


async def send_parts(api: Api, big: GeneratedFile, parts: list[dict[str, Any]]) -> None:
    for part in parts:
        assert part["method"] == "PUT"
        status, _ = await api.sender.put(
            part["upload_url"], part["headers"], big.part(part["part_number"])
        )
        assert status == 200


async def stored_parts(api: Api, headers: dict[str, str], started: dict[str, Any]) -> Any:
    file_id = entry(started, "big.bin")["file_id"]
    response = await api.client.get(
        PARTS, params={"dataset_id": started["dataset_id"], "file_id": file_id}, headers=headers
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def complete(api: Api, headers: dict[str, str], dataset_id: int) -> dict[str, Any]:
    response = await api.client.post(
        "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=headers
    )
    assert response.status == 200, await response.text()
    return await wait_for_status(api.client, dataset_id, headers)


def findings_for(status: dict[str, Any], filename: str) -> set[str]:
    findings = status["validation_results"]["findings"]
    return {f["rule"] for f in findings if f["file"] == filename}


async def stored_sha256(api: Api, key: str) -> tuple[int, str]:
    info = await api.store.head(key)
    assert info is not None
    digest = hashlib.sha256()
    async for chunk in api.store.stream(key, chunk_bytes=MiB):
        digest.update(chunk)
    return info.size_bytes, digest.hexdigest()


async def test_a_large_file_gets_a_part_plan_beside_its_single_put_url(
    make_api: Any, add_account: Any
) -> None:
    api: Api = await make_api()
    headers = await login(api.client, await add_account("alice", team="red"))
    started = await start_large_dataset(api, headers, big_file(), upload_manifest=True)
    big, manifest = entry(started, "big.bin"), entry(started, "manifest.csv")
    assert big["multipart"] == {"part_size_bytes": 5 * MiB, "parts": 3}
    # A client that knows nothing of parts still finds everything it used to.
    assert big["upload_url"] and big["method"] == "PUT" and big["headers"]
    assert "multipart" not in manifest
    listed = await stored_parts(api, headers, started)
    assert listed["parts"] == []
    assert (listed["parts_total"], listed["part_size_bytes"]) == (3, 5 * MiB)


async def test_an_interrupted_file_resumes_with_only_the_missing_parts(
    make_api: Any, add_account: Any
) -> None:
    api: Api = await make_api(luna_validators=1)
    headers = await login(api.client, await add_account("alice", team="red"))
    big = big_file()
    started = await start_large_dataset(api, headers, big, upload_manifest=True)
    await send_parts(api, big, await part_urls(api, headers, started, [1, 3]))

    listed = await stored_parts(api, headers, started)
    assert [(p["part_number"], p["size_bytes"], p["etag"]) for p in listed["parts"]] == [
        (1, 5 * MiB, hashlib.md5(big.part(1)).hexdigest()),
        (3, 2 * MiB + 345, hashlib.md5(big.part(3)).hexdigest()),
    ]
    arrived = {p["part_number"] for p in listed["parts"]}
    missing = [n for n in range(1, listed["parts_total"] + 1) if n not in arrived]
    puts_before = api.sender.puts
    await send_parts(api, big, await part_urls(api, headers, started, missing))
    assert api.sender.puts - puts_before == 1

    status = await complete(api, headers, started["dataset_id"])
    assert status["status"] == "completed"
    assert not {r for r in findings_for(status, "big.bin") if r.startswith("upload.")}
    reported = next(f for f in status["validation_results"]["files"] if f["filename"] == "big.bin")
    assert (reported["size_bytes"], reported["sha256"]) == (big.size_bytes, big.sha256())
    assert await stored_sha256(api, entry(started, "big.bin")["s3_key"]) == (
        big.size_bytes,
        big.sha256(),
    )


async def test_a_file_with_missing_parts_is_reported_missing_and_its_parts_dropped(
    make_api: Any, add_account: Any, db: Any
) -> None:
    api: Api = await make_api(luna_validators=1)
    headers = await login(api.client, await add_account("alice", team="red"))
    big = big_file()
    started = await start_large_dataset(api, headers, big, upload_manifest=True)
    await send_parts(api, big, await part_urls(api, headers, started, [1, 2]))
    file_id, key = entry(started, "big.bin")["file_id"], entry(started, "big.bin")["s3_key"]
    upload_id = await db.fetchval(
        "SELECT multipart_upload_id FROM dataset_files WHERE id = $1", file_id
    )

    status = await complete(api, headers, started["dataset_id"])
    assert status["status"] == "completed"
    assert "upload.missing" in findings_for(status, "big.bin")
    assert await api.store.head(key) is None
    with pytest.raises(NotFound):  # the parts that did arrive are gone too
        await api.store.list_parts(key, upload_id=upload_id)
    # Completing again changes nothing, and the file takes no more parts.
    again = await api.client.post(
        "/api/v1/upload/complete", json={"dataset_id": started["dataset_id"]}, headers=headers
    )
    assert again.status == 200
    late = await api.client.post(
        PARTS,
        json={"dataset_id": started["dataset_id"], "file_id": file_id, "part_numbers": [3]},
        headers=headers,
    )
    assert late.status == 409
    assert "already completed" in (await late.json())["detail"]


async def test_an_old_client_uploads_a_large_file_whole(make_api: Any, add_account: Any) -> None:
    api: Api = await make_api(luna_validators=1)
    headers = await login(api.client, await add_account("alice", team="red"))
    big = big_file()
    started = await start_large_dataset(api, headers, big, upload_manifest=True)
    whole = b"".join(big.chunks())
    big_entry = entry(started, "big.bin")
    status_code, _ = await api.sender.put(big_entry["upload_url"], big_entry["headers"], whole)
    assert status_code == 200

    status = await complete(api, headers, started["dataset_id"])
    assert not {r for r in findings_for(status, "big.bin") if r.startswith("upload.")}
    assert await stored_sha256(api, big_entry["s3_key"]) == (big.size_bytes, big.sha256())


async def test_part_urls_only_for_the_callers_multipart_files(
    make_api: Any, add_account: Any
) -> None:
    api: Api = await make_api()
    red = await login(api.client, await add_account("alice", team="red"))
    blue = await login(api.client, await add_account("bob", team="blue"))
    started = await start_large_dataset(api, red, big_file(), upload_manifest=True)
    dataset_id = started["dataset_id"]
    big_id, manifest_id = (
        entry(started, "big.bin")["file_id"],
        entry(started, "manifest.csv")["file_id"],
    )

    async def ask(headers: dict[str, str], **body: Any) -> tuple[int, dict[str, Any]]:
        request = {"dataset_id": dataset_id, "file_id": big_id, "part_numbers": [1], **body}
        response = await api.client.post(PARTS, json=request, headers=headers)
        assert response.content_type == (
            "application/json" if response.status == 200 else "application/problem+json"
        )
        return response.status, await response.json()

    status, problem = await ask(blue)
    assert status == 404
    listed = await api.client.get(
        PARTS, params={"dataset_id": dataset_id, "file_id": big_id}, headers=blue
    )
    assert listed.status == 404
    assert (await ask(red, file_id=manifest_id + 1000))[0] == 404

    status, problem = await ask(red, file_id=manifest_id)
    assert status == 409
    assert "manifest.csv" in problem["detail"] and "upload_url" in problem["detail"]

    status, problem = await ask(red, part_numbers=[1, 0, 4])
    assert status == 422
    assert [e["field"] for e in problem["errors"]] == ["part_numbers[1]", "part_numbers[2]"]
    assert "1..3" in problem["detail"]
    status, problem = await ask(red, part_numbers=list(range(1, 1002)))
    assert status == 422
    status, problem = await ask(red, part_numbers=[])
    assert status == 422

    missing_query = await api.client.get(PARTS, params={"dataset_id": dataset_id}, headers=red)
    assert missing_query.status == 400
    status, answer = await ask(red, part_numbers=[3, 3, 1])
    assert status == 200
    assert [(p["part_number"], p["size_bytes"]) for p in answer["parts"]] == [
        (3, 2 * MiB + 345),
        (1, 5 * MiB),
    ]
    assert all(p["headers"]["Content-Length"] == str(p["size_bytes"]) for p in answer["parts"])


async def test_finishing_again_after_lost_bookkeeping_reads_the_store(
    make_api: Any, add_account: Any, db: Any
) -> None:
    from luna.http.handlers.parts import finish_multipart_uploads

    api: Api = await make_api()
    headers = await login(api.client, await add_account("alice", team="red"))
    big = big_file()
    started = await start_large_dataset(api, headers, big, upload_manifest=True)
    await send_parts(api, big, await part_urls(api, headers, started, [1, 2, 3]))
    dataset_id, file_id = started["dataset_id"], entry(started, "big.bin")["file_id"]

    first = await finish_multipart_uploads(db, api.store, dataset_id)
    assert (first.joined, first.incomplete) == (("big.bin",), ())
    assert await finish_multipart_uploads(db, api.store, dataset_id) == type(first)()
    # As if the joining call died before it recorded what it did: the object tells.
    await db.execute(
        "UPDATE dataset_files SET multipart_state = 'uploading' WHERE id = $1", file_id
    )
    again = await finish_multipart_uploads(db, api.store, dataset_id)
    assert again.joined == ("big.bin",)
    state = await db.fetchval("SELECT multipart_state FROM dataset_files WHERE id = $1", file_id)
    assert state == "completed"

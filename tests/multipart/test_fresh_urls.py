"""POST /api/v1/upload/urls: fresh single-PUT URLs for the files of a dataset still uploading,
each entry shaped as upload/start's (the part plan included for files still taking parts), on
S3 and on the embedded store. Files over 6 MiB go in 5 MiB parts here."""

from __future__ import annotations

from typing import Any

import pytest
from multipart.parts_support import (
    MANIFEST,
    Api,
    MiB,
    big_file,
    start_large_dataset,
)
from support import login

URLS = "/api/v1/upload/urls"


pytestmark = pytest.mark.usefixtures("small_parts")


async def fresh(api: Api, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return await api.client.post(URLS, json=body, headers=headers)


def by_name(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["filename"]: e for e in answer["upload_urls"]}


async def test_every_file_gets_a_fresh_url_shaped_as_upload_start_gave_it(
    make_api: Any, add_account: Any
) -> None:
    api: Api = await make_api()
    headers = await login(api.client, await add_account("alice", team="red"))
    big = big_file()
    started = await start_large_dataset(api, headers, big, upload_manifest=False)

    response = await fresh(api, headers, {"dataset_id": started["dataset_id"]})
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["dataset_id"] == started["dataset_id"]
    assert answer["expires_in"] == started["expires_in"] > 0
    before, after = by_name(started), by_name(answer)
    assert [e["filename"] for e in answer["upload_urls"]] == ["big.bin", "manifest.csv"]
    for name in before:
        for field in ("file_id", "s3_key", "method", "headers"):
            assert after[name][field] == before[name][field], (name, field)
        assert after[name]["upload_url"]
    assert after["big.bin"]["multipart"] == {"part_size_bytes": 5 * MiB, "parts": 3}
    assert "multipart" not in after["manifest.csv"]

    # The fresh URLs store exactly the declared bytes.
    manifest = after["manifest.csv"]
    status, _ = await api.sender.put(manifest["upload_url"], manifest["headers"], MANIFEST)
    assert status == 200
    whole = after["big.bin"]
    status, _ = await api.sender.put(whole["upload_url"], whole["headers"], b"".join(big.chunks()))
    assert status == 200
    for entry in after.values():
        assert await api.store.head(entry["s3_key"]) is not None


async def test_file_ids_choose_the_files_in_the_datasets_order(
    make_api: Any, add_account: Any
) -> None:
    api: Api = await make_api()
    headers = await login(api.client, await add_account("alice", team="red"))
    started = await start_large_dataset(api, headers, big_file(), upload_manifest=False)
    ids = by_name(started)
    manifest_id, big_id = ids["manifest.csv"]["file_id"], ids["big.bin"]["file_id"]

    only = await (
        await fresh(api, headers, {"dataset_id": started["dataset_id"], "file_ids": [manifest_id]})
    ).json()
    assert [e["file_id"] for e in only["upload_urls"]] == [manifest_id]
    both = await fresh(
        api,
        headers,
        {"dataset_id": started["dataset_id"], "file_ids": [manifest_id, big_id, manifest_id]},
    )
    assert [e["file_id"] for e in (await both.json())["upload_urls"]] == [big_id, manifest_id]


async def test_ids_that_are_not_the_datasets_files_are_named(
    make_api: Any, add_account: Any
) -> None:
    api: Api = await make_api()
    headers = await login(api.client, await add_account("alice", team="red"))
    first = await start_large_dataset(api, headers, big_file(), upload_manifest=False)
    second = await start_large_dataset(api, headers, big_file(), upload_manifest=False)
    other_id = by_name(second)["manifest.csv"]["file_id"]

    response = await fresh(
        api, headers, {"dataset_id": first["dataset_id"], "file_ids": [other_id, 0]}
    )
    assert response.status == 422
    problem = await response.json()
    assert [e["field"] for e in problem["errors"]] == ["file_ids[0]", "file_ids[1]"]
    assert f"file {other_id} is not a file of dataset {first['dataset_id']}" in problem["detail"]
    for bad in (
        {"dataset_id": first["dataset_id"], "file_ids": []},
        {"dataset_id": first["dataset_id"], "file_ids": ["1"]},
        {"dataset_id": 0},
        {},
    ):
        response = await fresh(api, headers, bad)
        assert response.status == 422, bad


async def test_another_teams_or_an_absent_dataset_is_404_and_a_completed_one_409(
    make_api: Any, add_account: Any
) -> None:
    api: Api = await make_api()
    alice = await login(api.client, await add_account("alice", team="red"))
    bob = await login(api.client, await add_account("bob", team="blue"))
    started = await start_large_dataset(api, alice, big_file(), upload_manifest=False)
    dataset_id = started["dataset_id"]

    assert (await fresh(api, bob, {"dataset_id": dataset_id})).status == 404
    assert (await fresh(api, alice, {"dataset_id": dataset_id + 1000})).status == 404
    unauthenticated = await api.client.post(URLS, json={"dataset_id": dataset_id})
    assert unauthenticated.status == 401

    completed = await api.client.post(
        "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=alice
    )
    assert completed.status == 200
    response = await fresh(api, alice, {"dataset_id": dataset_id})
    assert response.status == 409
    assert "already completed" in (await response.json())["detail"]

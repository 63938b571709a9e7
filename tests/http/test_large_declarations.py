"""Large declarations: upload/start writes its rows in COPY chunks and opens no multipart upload
in the store; upload/complete holds no transaction while the store works. What a client sees
is unchanged: one id and URL per file in its order, quotas and duplicate names refused with
nothing written. bench/upload_start.py times the same paths at 10,000 and 100,000 files."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from support import login

from luna import constants
from luna.http.keys import STORE

MiB = 1024 * 1024
FILES = 53  # with 7 rows per COPY: eight chunks, the last one short
ROWS_PER_COPY = 7


def declared(count: int, *, large_every: int = 5) -> list[dict[str, Any]]:
    """`count` files; every `large_every`-th one is over the (test's) multipart threshold."""
    files = []
    for n in range(count):
        large = n % large_every == 0
        files.append(
            {
                "filename": f"images/Scan-{n:03d}.dcm",
                "content_type": "application/dicom",
                "size_bytes": 12 * MiB + n if large else 1000 + n,
                **({"sha256": f"{n:064x}"} if n % 2 else {}),
            }
        )
    return files


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small COPY chunks, and the row count of every COPY into dataset_files (the real call
    runs; this only counts)."""
    monkeypatch.setattr(constants, "FILE_ROWS_PER_COPY", ROWS_PER_COPY)
    counted: list[int] = []
    real = asyncpg.connection.Connection.copy_records_to_table

    async def counting(self: Any, table_name: str, *, records: Any, **kwargs: Any) -> Any:
        records = list(records)
        if table_name == "dataset_files":
            counted.append(len(records))
        return await real(self, table_name, records=records, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "copy_records_to_table", counting)
    return counted


@pytest.fixture
async def team(make_client: Any, add_account: Any) -> tuple[Any, dict[str, str]]:
    client = await make_client(
        luna_multipart_threshold_bytes=10 * MiB, luna_multipart_part_bytes=5 * MiB
    )
    return client, await login(client, await add_account("alice", team="red"))


async def start(client: Any, headers: dict[str, str], files: list[dict[str, Any]]) -> Any:
    return await client.post(
        "/api/v1/upload/start", json={"dataset_name": "big", "files": files}, headers=headers
    )


async def test_rows_go_in_by_copy_chunks_and_match_the_declaration(
    team: Any, copies: list[int], db: asyncpg.Pool
) -> None:
    client, headers = team
    files = declared(FILES)
    response = await start(client, headers, files)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert copies == [ROWS_PER_COPY] * (FILES // ROWS_PER_COPY) + [FILES % ROWS_PER_COPY]

    dataset_id = body["dataset_id"]
    entries = body["upload_urls"]
    assert [e["filename"] for e in entries] == [f["filename"] for f in files]
    ids = [e["file_id"] for e in entries]
    assert ids == sorted(set(ids)), "one id per file, ascending in declaration order"
    rows = await db.fetch(
        "SELECT id, filename, content_type, size_bytes, sha256, s3_key, part_size_bytes, "
        "multipart_state, multipart_upload_id FROM dataset_files WHERE dataset_id = $1 "
        "ORDER BY id",
        dataset_id,
    )
    assert [r["id"] for r in rows] == ids
    for row, f, e in zip(rows, files, entries, strict=True):
        large = f["size_bytes"] > 10 * MiB
        assert (row["filename"], row["content_type"], row["size_bytes"], row["sha256"]) == (
            f["filename"],
            f["content_type"],
            f["size_bytes"],
            f.get("sha256"),
        )
        assert row["s3_key"] == e["s3_key"] == f"datasets/{dataset_id}/{f['filename']}"
        # A large file is planned for parts, with no upload opened in the store yet.
        assert row["part_size_bytes"] == (5 * MiB if large else None)
        assert row["multipart_state"] == ("planned" if large else None)
        assert row["multipart_upload_id"] is None
        assert ("multipart" in e) is large
        if large:
            assert e["multipart"] == {"part_size_bytes": 5 * MiB, "parts": 3}
    dataset = await db.fetchrow(
        "SELECT files_count, bytes_total FROM datasets WHERE id = $1", dataset_id
    )
    assert (dataset["files_count"], dataset["bytes_total"]) == (
        FILES,
        sum(f["size_bytes"] for f in files),
    )
    # The sequence moved past every id taken: the next dataset's files never collide.
    again = await (await start(client, headers, declared(3))).json()
    assert min(e["file_id"] for e in again["upload_urls"]) > max(ids)


async def test_quota_and_duplicates_are_refused_with_nothing_written(
    team: Any, copies: list[int], db: asyncpg.Pool, add_account: Any
) -> None:
    client, headers = team
    account_team = await db.fetchval("SELECT id FROM teams WHERE name = 'red'")
    files = declared(FILES)
    total = sum(f["size_bytes"] for f in files)
    await db.execute(
        "UPDATE teams SET quota_bytes_stored = $2 WHERE id = $1", account_team, total - 1
    )
    over = await start(client, headers, files)
    assert over.status == 413
    assert (await over.json())["errors"][0]["limit"] == "bytes_stored"

    await db.execute(
        "UPDATE teams SET quota_files_per_dataset = $2 WHERE id = $1", account_team, 10
    )
    await db.execute("UPDATE teams SET quota_bytes_stored = NULL WHERE id = $1", account_team)
    too_many = await start(client, headers, files)
    assert too_many.status == 413
    assert (await too_many.json())["errors"][0]["limit"] == "files_per_dataset"
    await db.execute("UPDATE teams SET quota_files_per_dataset = NULL WHERE id = $1", account_team)

    twice = [*files, {**files[30], "filename": files[30]["filename"].upper()}]
    duplicate = await start(client, headers, twice)
    assert duplicate.status == 422
    problem = await duplicate.json()
    assert problem["errors"][0]["field"] == f"files[{FILES}].filename"

    assert copies == []
    assert await db.fetchval("SELECT count(*) FROM datasets") == 0
    assert await db.fetchval("SELECT count(*) FROM dataset_files") == 0
    # Within the quota the same files go in.
    assert (await start(client, headers, files)).status == 200


async def test_parts_open_the_upload_once_even_when_asked_at_once(
    team: Any, db: asyncpg.Pool
) -> None:
    client, headers = team
    body = await (await start(client, headers, declared(6))).json()
    dataset_id = body["dataset_id"]
    large = [e for e in body["upload_urls"] if "multipart" in e]
    file_id = large[0]["file_id"]
    parts_query = {"dataset_id": str(dataset_id), "file_id": str(file_id)}
    # Before any part URL: nothing is open and nothing has arrived.
    listed = await client.get("/api/v1/upload/parts", params=parts_query, headers=headers)
    assert listed.status == 200, await listed.text()
    assert (await listed.json())["parts"] == []

    async def ask(number: int) -> dict[str, Any]:
        response = await client.post(
            "/api/v1/upload/parts",
            json={"dataset_id": dataset_id, "file_id": file_id, "part_numbers": [number]},
            headers=headers,
        )
        assert response.status == 200, await response.text()
        return await response.json()

    answers = await asyncio.gather(*(ask(n) for n in (1, 2, 3, 1, 2, 3)))
    upload_id = await db.fetchval(
        "SELECT multipart_upload_id FROM dataset_files WHERE id = $1", file_id
    )
    assert upload_id
    for answer in answers:
        assert f"uploadId={upload_id}" in answer["parts"][0]["upload_url"]
    store = client.app[STORE]
    uploads = await store._client.list_multipart_uploads(
        Bucket=store.bucket, Prefix=large[0]["s3_key"]
    )
    assert [u["UploadId"] for u in uploads.get("Uploads", [])] == [upload_id]

    # Completing drops the opened upload (no part arrived) and leaves the others planned;
    # afterwards no file takes parts, opened or not.
    done = await client.post(
        "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=headers
    )
    assert done.status == 200, await done.text()
    states = dict(
        await db.fetch(
            "SELECT id, multipart_state FROM dataset_files WHERE dataset_id = $1 "
            "AND part_size_bytes IS NOT NULL",
            dataset_id,
        )
    )
    assert states == {e["file_id"]: "planned" for e in large} | {file_id: "aborted"}
    for late in (file_id, large[1]["file_id"]):
        refused = await client.post(
            "/api/v1/upload/parts",
            json={"dataset_id": dataset_id, "file_id": late, "part_numbers": [1]},
            headers=headers,
        )
        assert refused.status == 409
    uploads = await store._client.list_multipart_uploads(
        Bucket=store.bucket, Prefix=f"datasets/{dataset_id}/"
    )
    # The bucket outlives the database between tests, so an earlier test's dataset with the
    # same id may have left uploads under this prefix: only this dataset's keys count.
    ours = {e["s3_key"] for e in body["upload_urls"]}
    assert [u["Key"] for u in uploads.get("Uploads", []) if u["Key"] in ours] == []


async def test_complete_waits_for_the_whole_declaration(team: Any, db: asyncpg.Pool) -> None:
    """The file rows go in chunk by chunk: a dataset whose rows are not all in yet (its start
    has not answered, or failed half-way) cannot be completed."""
    client, headers = team
    body = await (await start(client, headers, declared(6))).json()
    dataset_id = body["dataset_id"]
    await db.execute("DELETE FROM dataset_files WHERE id = $1", body["upload_urls"][-1]["file_id"])
    early = await client.post(
        "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=headers
    )
    assert early.status == 409
    assert "still being declared" in (await early.json())["detail"]
    assert await db.fetchval("SELECT status FROM datasets WHERE id = $1", dataset_id) == (
        "uploading"
    )

"""The status body costs the same for any dataset: files and findings capped, with totals
stored at commit, and every file and finding a page away."""

from __future__ import annotations

import orjson
from status.seed import settled_dataset
from support import login, upload

from luna.db import queries

FINDINGS = {"image.not_grayscale": 45, "upload.checksum_mismatch": 3, "image.corrupt": 21}


async def test_a_large_dataset_has_a_small_status_with_totals(make_client, add_account, db):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    user = await queries.fetch_user(db, "alice")
    assert user is not None
    dataset_id = await settled_dataset(
        db, team_id=user.team_id, user_id=user.id, files=2500, findings=FINDINGS
    )

    response = await client.get(f"/api/v1/validation/{dataset_id}/status", headers=headers)
    assert response.status == 200
    raw = await response.read()
    assert len(raw) < 64 * 1024
    body = orjson.loads(raw)
    assert body["status"] == "completed"
    assert body["progress"] == {"files_done": 2500, "files_total": 2500}
    results = body["validation_results"]
    assert results["verdict"] == "rejected"
    assert results["summary"] == {"errors": 24, "warnings": 45}
    assert results["findings_total"] == FINDINGS
    assert results["findings_truncated"] is True
    shown = [f["rule"] for f in results["findings"]]
    assert {rule: shown.count(rule) for rule in FINDINGS} == {
        "image.not_grayscale": 20,
        "upload.checksum_mismatch": 3,
        "image.corrupt": 20,
    }
    assert results["files_total"] == 2500 and results["files_truncated"] is True
    assert len(results["files"]) == 100
    assert results["files"][0] == {
        "filename": "images/img000000.png",
        "size_bytes": 1000,
        "sha256": f"{0:064x}",
        "format": "png",
        "width": 512,
        "height": 512,
    }
    assert body["started_at"].endswith("+00:00") and body["completed_at"]
    assert body["validation_logs"][-1]["level"] == "INFO"


async def test_files_page_through_every_stored_file_in_declared_order(make_client, add_account, db):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    user = await queries.fetch_user(db, "alice")
    assert user is not None
    dataset_id = await settled_dataset(
        db, team_id=user.team_id, user_id=user.id, files=2500, findings={}
    )
    names: list[str] = []
    cursor = ""
    pages = 0
    while True:
        response = await client.get(
            f"/api/v1/validation/{dataset_id}/files?limit=1000&cursor={cursor}", headers=headers
        )
        assert response.status == 200, await response.text()
        page = await response.json()
        assert page["total"] == 2500
        names += [f["filename"] for f in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert pages == 3
    assert names == [f"images/img{i:06d}.png" for i in range(2500)]


async def test_findings_totals_come_from_the_commit(make_client, add_account, db):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    user = await queries.fetch_user(db, "alice")
    assert user is not None
    dataset_id = await settled_dataset(
        db, team_id=user.team_id, user_id=user.id, files=30, findings=FINDINGS
    )
    url = f"/api/v1/validation/{dataset_id}/findings"
    everything = await (await client.get(url, headers=headers)).json()
    assert everything["total"] == 69
    warnings = await (await client.get(f"{url}?severity=warning", headers=headers)).json()
    assert warnings["total"] == 45
    corrupt = await (
        await client.get(f"{url}?rule=image.corrupt&severity=error&limit=5", headers=headers)
    ).json()
    assert corrupt["total"] == 21 and len(corrupt["items"]) == 5
    assert corrupt["next_cursor"] is not None


async def test_files_of_another_team_or_before_complete(make_client, add_account, db):
    red = await add_account("alice", team="red")
    blue = await add_account("bob", team="blue")
    client = await make_client()
    red_h, blue_h = await login(client, red), await login(client, blue)
    uploading = await upload(client, red_h, {"a.png": b"x"}, complete=False)
    response = await client.get(f"/api/v1/validation/{uploading}/files", headers=red_h)
    assert response.status == 409
    assert "upload/complete" in (await response.json())["detail"]
    user = await queries.fetch_user(db, "alice")
    assert user is not None
    dataset_id = await settled_dataset(
        db, team_id=user.team_id, user_id=user.id, files=3, findings={}
    )
    for route in ("files", "status", "findings"):
        response = await client.get(f"/api/v1/validation/{dataset_id}/{route}", headers=blue_h)
        assert response.status == 404, route
    small = await (
        await client.get(f"/api/v1/validation/{dataset_id}/status", headers=red_h)
    ).json()
    assert small["validation_results"]["files_truncated"] is False
    assert len(small["validation_results"]["files"]) == 3

"""Uploads never completed are swept: files removed, the dataset marked abandoned."""

from __future__ import annotations

from support import login, upload

from luna.background import sweep_abandoned_uploads
from luna.http.keys import DB, STORE

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


async def test_an_old_unfinished_upload_is_swept_and_a_late_complete_refused(start_service, db):
    service = await start_service()
    client = service.client
    headers = await login(client, await service.add_account("alice", team="red"))
    old = await upload(client, headers, {"a.png": PNG, "b.png": PNG}, complete=False)
    fresh = await upload(client, headers, {"c.png": PNG}, complete=False)
    app_db = client.app[DB]
    await app_db.execute(
        "UPDATE datasets SET created_at = now() - interval '8 days' WHERE id = $1", old
    )
    store = client.app[STORE]
    assert await store.head(f"datasets/{old}/a.png") is not None

    await sweep_abandoned_uploads(app_db, store, older_than_s=7 * 86400)

    assert await store.head(f"datasets/{old}/a.png") is None
    assert await store.head(f"datasets/{old}/b.png") is None
    assert await store.head(f"datasets/{fresh}/c.png") is not None
    listed = await (await client.get("/api/v1/datasets", headers=headers)).json()
    assert {d["dataset_id"]: d["status"] for d in listed["items"]} == {
        old: "abandoned",
        fresh: "uploading",
    }
    late = await client.post("/api/v1/upload/complete", json={"dataset_id": old}, headers=headers)
    assert late.status == 409
    assert "abandoned" in (await late.json())["detail"]
    status = await client.get(f"/api/v1/validation/{old}/status", headers=headers)
    assert status.status == 409

"""upload/complete, the status route, dataset lists, and teams that cannot see each other."""

from __future__ import annotations

from support import login, upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


async def test_complete_is_idempotent_and_returns_the_same_job(make_client, add_account, db):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    dataset_id = await upload(client, headers, {"a.png": PNG}, complete=False)
    answers = []
    for _ in range(3):
        response = await client.post(
            "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=headers
        )
        assert response.status == 200
        answers.append(await response.json())
    assert {a["validation_job_id"] for a in answers} == {dataset_id}
    assert answers[0]["status"] == "pending"
    assert await db.fetchval("SELECT count(*) FROM validation_jobs") == 1


async def test_status_before_complete_says_to_complete(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    dataset_id = await upload(client, headers, {"a.png": PNG}, complete=False)
    response = await client.get(f"/api/v1/validation/{dataset_id}/status", headers=headers)
    assert response.status == 409
    assert "upload/complete" in (await response.json())["detail"]


async def test_teams_cannot_see_each_other_and_organisers_see_all(make_client, add_account):
    red = await add_account("alice", team="red")
    blue = await add_account("bob", team="blue")
    organiser = await add_account("olga", team="organisers", admin=True)
    client = await make_client()
    red_h, blue_h, org_h = [await login(client, a) for a in (red, blue, organiser)]
    red_id = await upload(client, red_h, {"a.png": PNG}, name="red-1")
    blue_id = await upload(client, blue_h, {"b.png": PNG}, name="blue-1")

    for path in ("status", "findings"):
        response = await client.get(f"/api/v1/validation/{red_id}/{path}", headers=blue_h)
        assert response.status == 404
    response = await client.post(
        "/api/v1/upload/complete", json={"dataset_id": red_id}, headers=blue_h
    )
    assert response.status == 404
    missing = await client.get("/api/v1/validation/999999/status", headers=blue_h)
    assert missing.status == 404
    assert (await missing.json())["detail"] == (
        await (await client.get(f"/api/v1/validation/{red_id}/status", headers=blue_h)).json()
    )["detail"].replace(str(red_id), "999999")

    red_list = await (await client.get("/api/v1/datasets", headers=red_h)).json()
    blue_list = await (await client.get("/api/v1/datasets", headers=blue_h)).json()
    org_list = await (await client.get("/api/v1/datasets", headers=org_h)).json()
    assert [d["dataset_id"] for d in red_list["items"]] == [red_id]
    assert [d["dataset_id"] for d in blue_list["items"]] == [blue_id]
    assert [d["dataset_id"] for d in org_list["items"]] == [blue_id, red_id]
    assert org_list["items"][0]["status"] == "pending"
    response = await client.get(f"/api/v1/validation/{red_id}/status", headers=org_h)
    assert response.status == 200


async def test_dataset_list_pages_with_a_cursor(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    ids = [await upload(client, headers, {"a.png": PNG}, name=f"d{i}") for i in range(5)]
    seen = []
    cursor = None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = await (await client.get("/api/v1/datasets", params=query, headers=headers)).json()
        seen += [d["dataset_id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    bad = await client.get("/api/v1/datasets", params={"limit": "0"}, headers=headers)
    assert bad.status == 400
    bad = await client.get("/api/v1/datasets", params={"cursor": "abc"}, headers=headers)
    assert bad.status == 400


async def test_bad_path_ids_and_unknown_routes_get_problems(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    for path in ("/api/v1/validation/abc/status", "/api/v1/validation/-1/status"):
        response = await client.get(path, headers=headers)
        assert response.status in (400, 404)
        assert response.content_type == "application/problem+json"
    response = await client.get("/api/v1/nothing-here", headers=headers)
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    response = await client.delete("/api/v1/datasets", headers=headers)
    assert response.status == 405
    for body in ({}, {"dataset_id": "1"}, {"dataset_id": 0}, {"dataset_id": True}):
        response = await client.post("/api/v1/upload/complete", json=body, headers=headers)
        assert response.status == 422, body

"""Per-team quotas, checked when upload URLs are issued."""

from __future__ import annotations

from support import login

from luna.db import queries


def files(*sizes: int) -> list[dict]:
    return [
        {"filename": f"f{i}.png", "content_type": "image/png", "size_bytes": size}
        for i, size in enumerate(sizes)
    ]


async def start(client, headers, *sizes: int):
    return await client.post(
        "/api/v1/upload/start", json={"dataset_name": "q", "files": files(*sizes)}, headers=headers
    )


async def test_datasets_per_day_is_429_saying_when_it_resets(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client(luna_quota_datasets_per_day=2)
    headers = await login(client, account)
    assert (await start(client, headers, 10)).status == 200
    assert (await start(client, headers, 10)).status == 200
    refused = await start(client, headers, 10)
    assert refused.status == 429
    problem = await refused.json()
    assert problem["errors"][0]["limit"] == "datasets_per_day"
    assert problem["errors"][0]["resets_at"]
    assert "resets at" in problem["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 86400


async def test_quotas_are_per_team(make_client, add_account):
    red = await add_account("alice", team="red")
    blue = await add_account("bob", team="blue")
    client = await make_client(luna_quota_datasets_per_day=1)
    red_h, blue_h = await login(client, red), await login(client, blue)
    assert (await start(client, red_h, 10)).status == 200
    assert (await start(client, red_h, 10)).status == 429
    assert (await start(client, blue_h, 10)).status == 200


async def test_bytes_stored_counts_datasets_but_not_platform_failures(make_client, add_account, db):
    account = await add_account("alice", team="red")
    client = await make_client(luna_quota_bytes_stored=1000)
    headers = await login(client, account)
    first = await start(client, headers, 600)
    assert first.status == 200
    refused = await start(client, headers, 600)
    assert refused.status == 413
    assert (await refused.json())["errors"][0]["limit"] == "bytes_stored"
    # Validation of the first failed for a platform reason: it no longer counts.
    dataset_id = (await first.json())["dataset_id"]
    await db.execute("UPDATE datasets SET status = 'failed' WHERE id = $1", dataset_id)
    assert (await start(client, headers, 600)).status == 200


async def test_a_teams_own_limits_override_the_defaults(make_client, add_account, db):
    account = await add_account("alice", team="red")
    await queries.set_team_quota(
        db, "red", datasets_per_day=None, bytes_stored=None, files_per_dataset=2, bytes_per_file=100
    )
    client = await make_client()
    headers = await login(client, account)
    too_many = await start(client, headers, 1, 1, 1)
    assert too_many.status == 413
    assert (await too_many.json())["errors"][0]["limit"] == "files_per_dataset"
    too_big = await start(client, headers, 101)
    assert too_big.status == 413
    assert (await too_big.json())["errors"][0]["limit"] == "bytes_per_file"
    assert (await start(client, headers, 100, 100)).status == 200


async def test_an_abandoned_upload_stops_counting_once_its_urls_expire(
    make_client, add_account, db
):
    account = await add_account("alice", team="red")
    client = await make_client(luna_quota_bytes_stored=1000, luna_upload_url_expires_s=3600)
    headers = await login(client, account)
    first = await start(client, headers, 600)
    assert (await start(client, headers, 600)).status == 413
    # Never completed, and its URLs are long dead: the team re-uploads instead.
    dataset_id = (await first.json())["dataset_id"]
    await db.execute(
        "UPDATE datasets SET created_at = now() - interval '2 hours' WHERE id = $1", dataset_id
    )
    assert (await start(client, headers, 600)).status == 200

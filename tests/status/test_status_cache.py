"""A settled job's status is built once per replica and served from memory, still checked
against the caller's team; a live job's is read fresh every time."""

from __future__ import annotations

from status.seed import large_settled_dataset
from support import login, upload

from luna.db import queries
from luna.http.status_cache import SettledStatuses


def test_the_cache_is_bounded_by_entries_and_bytes_least_recent_out():
    cache = SettledStatuses(max_entries=3, max_bytes=100)
    for dataset_id in (1, 2, 3):
        cache.put(dataset_id, team_id=7, body=b"x" * 10)
    assert cache.get(1) == (7, b"x" * 10)  # 1 is now the most recent
    cache.put(4, team_id=7, body=b"y" * 10)
    assert cache.get(2) is None and cache.get(1) is not None and len(cache) == 3
    cache.put(5, team_id=8, body=b"z" * 90)
    assert len(cache) == 2 and cache.get(4) is None and cache.get(5) == (8, b"z" * 90)
    cache.put(6, team_id=8, body=b"w" * 101)  # larger than the whole budget: not kept
    assert cache.get(6) is None
    off = SettledStatuses(max_entries=0, max_bytes=100)
    off.put(1, team_id=1, body=b"{}")
    assert off.get(1) is None


async def test_a_settled_status_is_served_from_memory_to_its_team_only(
    make_client, add_account, db
):
    red = await add_account("alice", team="red")
    blue = await add_account("bob", team="blue")
    organiser = await add_account("org", team="organisers", admin=True)
    client = await make_client()
    red_h, blue_h, org_h = [await login(client, a) for a in (red, blue, organiser)]
    alice = await queries.fetch_user(db, "alice")
    assert alice is not None
    dataset_id = await large_settled_dataset(
        db, team_id=alice.team_id, user_id=alice.id, files=5, findings={"image.corrupt": 2}
    )
    url = f"/api/v1/validation/{dataset_id}/status"
    first = await client.get(url, headers=red_h)
    assert first.status == 200
    body = await first.read()
    # Settled means final; a change behind luna's back shows that the body came from memory.
    await db.execute(
        "UPDATE validation_jobs SET error_message = 'changed' WHERE id = $1", dataset_id
    )
    again = await client.get(url, headers=red_h)
    assert again.status == 200 and await again.read() == body
    assert (await client.get(url, headers=blue_h)).status == 404
    assert (await client.get(url, headers=org_h)).status == 200


async def test_a_live_status_is_read_fresh(make_client, add_account, db):
    red = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, red)
    dataset_id = await upload(client, headers, {"a.png": b"x", "b.png": b"y"})
    url = f"/api/v1/validation/{dataset_id}/status"
    before = await (await client.get(url, headers=headers)).json()
    assert before["status"] == "pending" and before["progress"]["files_done"] == 0
    await db.execute(
        "UPDATE validation_jobs SET status = 'processing', files_done = 1 WHERE id = $1",
        dataset_id,
    )
    after = await (await client.get(url, headers=headers)).json()
    assert after["status"] == "processing" and after["progress"]["files_done"] == 1
    assert after["validation_results"] is None

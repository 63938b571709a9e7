"""Live status over Server-Sent Events."""

from __future__ import annotations

import orjson
from support import login, upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


async def read_events(response) -> list[tuple[str, dict]]:
    events = []
    name = None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name:
            events.append((name, orjson.loads(line.removeprefix("data: "))))
            name = None
    return events


async def test_events_stream_progress_then_the_final_status(start_service):
    service = await start_service(luna_validators=1)
    client = service.client
    account = await service.add_account("alice", team="red")
    headers = await login(client, account)
    files = {f"img{i:03d}.png": PNG for i in range(60)}
    dataset_id = await upload(client, headers, files)
    response = await client.get(f"/api/v1/validation/{dataset_id}/events", headers=headers)
    assert response.status == 200
    assert response.content_type == "text/event-stream"
    events = await read_events(response)

    names = [name for name, _ in events]
    assert names[-1] == "status" and names.count("status") == 1
    progress = [data for name, data in events if name == "progress"]
    assert progress, events
    done = [p["files_done"] for p in progress]
    assert done == sorted(done)
    assert progress[-1]["status"] == "completed"
    final = events[-1][1]
    assert final["status"] == "completed"
    assert final["progress"]["files_done"] == 60
    assert final["validation_results"]["verdict"] in ("accepted", "rejected")


async def test_events_for_a_settled_job_send_the_status_at_once(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client(luna_validators=1)
    headers = await login(client, account)
    dataset_id = await upload(client, headers, {"a.png": PNG})
    first = await read_events(
        await client.get(f"/api/v1/validation/{dataset_id}/events", headers=headers)
    )
    second = await read_events(
        await client.get(f"/api/v1/validation/{dataset_id}/events", headers=headers)
    )
    assert first[-1][0] == second[-1][0] == "status"
    assert second[-1][1]["status"] == "completed"


async def test_events_of_another_team_are_404(make_client, add_account):
    red = await add_account("alice", team="red")
    blue = await add_account("bob", team="blue")
    client = await make_client()
    red_h, blue_h = await login(client, red), await login(client, blue)
    dataset_id = await upload(client, red_h, {"a.png": PNG})
    response = await client.get(f"/api/v1/validation/{dataset_id}/events", headers=blue_h)
    assert response.status == 404

"""The organisers' overview (queue, live validators per process, quota use per team) and the
ruleset route the web console checks manifests with."""

from __future__ import annotations

import asyncio
import time

import jsonschema
from support import login, upload

from luna.validation.ruleset import LABELS, RULESET


async def _matches_document(client, path: str, body: object) -> None:
    spec = await (await client.get("/api/v1/openapi.json")).json()
    schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    jsonschema.validate(body, {**schema["schema"], "components": spec["components"]})


async def test_an_organiser_sees_queue_validators_and_every_teams_quota_use(
    make_client, add_account
) -> None:
    client = await make_client(luna_validators=2, luna_quota_datasets_per_day=5)
    organiser = await add_account("olga", team="organisers", admin=True)
    alice = await add_account("alice", team="red")
    await add_account("bob", team="blue")
    await upload(client, await login(client, alice), {"a.png": b"x" * 10}, complete=False)
    headers = await login(client, organiser)

    deadline = time.monotonic() + 15
    while True:
        response = await client.get("/api/v1/admin/overview", headers=headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        if body["workers"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    await _matches_document(client, "/api/v1/admin/overview", body)
    assert body["queue"]["length"] >= 0 and body["queue"]["oldest_job_age_s"] >= 0
    (worker,) = body["workers"]
    assert worker["validators"] == 2 and worker["mode"] == "serve"
    teams = {t["team"]: t for t in body["teams"]}
    assert set(teams) == {"organisers", "red", "blue"}
    assert teams["red"]["datasets_today"] == 1 and teams["red"]["bytes_stored"] == 10
    assert teams["red"]["datasets_per_day"] == 5
    assert teams["blue"]["datasets"] == 0


async def test_a_team_member_is_refused_the_overview(make_client, add_account) -> None:
    client = await make_client()
    alice = await add_account("alice", team="red")
    response = await client.get("/api/v1/admin/overview", headers=await login(client, alice))
    assert response.status == 403
    assert "organisers" in (await response.json())["detail"]


async def test_the_ruleset_route_gives_the_validators_vocabulary(make_client, add_account) -> None:
    client = await make_client()
    alice = await add_account("alice", team="red")
    response = await client.get("/api/v1/ruleset", headers=await login(client, alice))
    assert response.status == 200
    body = await response.json()
    await _matches_document(client, "/api/v1/ruleset", body)
    assert body["ruleset"] == RULESET and body["labels"] == list(LABELS)
    assert {"rule": "image.not_grayscale", "severity": "warning"} in body["rules"]

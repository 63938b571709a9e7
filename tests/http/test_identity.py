"""A token stands for the user's current row: deleted, moved or changed users lose access."""

from __future__ import annotations

import asyncio
import time

import jwt
from support import Account, login, upload


async def _status_within(client, path, headers, expected: int, *, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        status = (await client.get(path, headers=headers)).status
        if status == expected or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


async def test_a_deleted_users_token_gets_401_everywhere(make_client, add_account, db):
    account = await add_account("ivan", team="red")
    client = await make_client()
    headers = await login(client, account)
    assert (await client.get("/api/v1/datasets", headers=headers)).status == 200
    await db.execute("DELETE FROM users WHERE username = 'ivan'")
    assert await _status_within(client, "/api/v1/datasets", headers, 401, timeout_s=2) == 401
    start = await client.post(
        "/api/v1/upload/start",
        json={
            "dataset_name": "d",
            "files": [{"filename": "a.csv", "content_type": "text/csv", "size_bytes": 1}],
        },
        headers=headers,
    )
    assert start.status == 401, await start.text()
    assert "no longer exists" in (await start.json())["detail"]


async def test_a_moved_user_stops_seeing_the_old_team_at_once(make_client, add_account, db):
    alpha = await add_account("judy", team="alpha")
    await add_account("karl", team="beta")
    client = await make_client()
    old = await login(client, alpha)
    await upload(client, old, {"a.csv": b"x"}, complete=False)
    assert len((await (await client.get("/api/v1/datasets", headers=old)).json())["items"]) == 1

    await db.execute(
        "UPDATE users SET team_id = (SELECT id FROM teams WHERE name = 'beta') "
        "WHERE username = 'judy'"
    )
    # Well inside the identity cache's 5 s: the NOTIFY dropped the cached copy.
    assert await _status_within(client, "/api/v1/datasets", old, 401, timeout_s=2) == 401
    answer = await client.get("/api/v1/datasets", headers=old)
    assert "log in again" in (await answer.json())["detail"]

    moved = await login(client, Account("judy", alpha.password, "beta", 0, False))
    listing = await client.get("/api/v1/datasets", headers=moved)
    assert (await listing.json())["items"] == []


async def test_a_password_reset_ends_earlier_tokens(make_client, add_account, db):
    account = await add_account("lena", team="red")
    client = await make_client()
    headers = await login(client, account)
    await db.execute("UPDATE users SET password_hash = 'scrypt$x' WHERE username = 'lena'")
    assert await _status_within(client, "/api/v1/datasets", headers, 401, timeout_s=2) == 401


async def test_an_unchanged_user_keeps_working_across_many_requests(make_client, add_account):
    account = await add_account("mia", team="red")
    client = await make_client()
    headers = await login(client, account)
    for _ in range(20):
        assert (await client.get("/api/v1/datasets", headers=headers)).status == 200


async def test_a_token_without_an_expiry_is_refused(make_client, add_account, make_settings):
    account = await add_account("nina", team="red")
    client = await make_client()
    headers = await login(client, account)
    claims = jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})
    del claims["exp"]
    secret = make_settings().jwt_secret_key.get_secret_value()
    forever = jwt.encode(claims, secret, algorithm="HS256")
    response = await client.get("/api/v1/datasets", headers={"Authorization": f"Bearer {forever}"})
    assert response.status == 401
    assert "expiry" in (await response.json())["detail"]

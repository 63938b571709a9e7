"""Logging in and presenting tokens."""

from __future__ import annotations

import time

import jwt
from support import login


async def test_login_with_json_returns_a_bearer_token(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client()
    response = await client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": account.password}
    )
    assert response.status == 200
    body = await response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert (
        jwt.decode(body["access_token"], options={"verify_signature": False})["username"] == "alice"
    )


async def test_login_with_a_form_works_too(make_client, add_account):
    account = await add_account("bob", team="red")
    client = await make_client()
    response = await client.post(
        "/api/v1/auth/login", data={"username": "bob", "password": account.password}
    )
    assert response.status == 200
    assert "access_token" in await response.json()


async def test_wrong_password_and_unknown_user_get_the_same_401(make_client, add_account):
    await add_account("carol", team="red")
    client = await make_client()
    wrong = await client.post("/api/v1/auth/login", json={"username": "carol", "password": "nope"})
    unknown = await client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert wrong.status == unknown.status == 401
    assert wrong.content_type == "application/problem+json"
    assert (await wrong.json())["detail"] == (await unknown.json())["detail"]


async def test_repeated_failures_are_rate_limited_with_retry_after(make_client, add_account):
    await add_account("dave", team="red")
    client = await make_client()
    statuses = []
    for _ in range(12):
        response = await client.post(
            "/api/v1/auth/login", json={"username": "dave", "password": "wrong"}
        )
        statuses.append(response.status)
    assert statuses[:10] == [401] * 10
    assert statuses[-1] == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "try again" in (await response.json())["detail"]


async def test_malformed_login_bodies_get_4xx_problems(make_client):
    client = await make_client()
    cases = [
        (b"", "application/json"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"username": "x"}', "application/json"),
        (b'{"username": 5, "password": []}', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"username=x", "application/x-www-form-urlencoded"),
    ]
    for body, content_type in cases:
        response = await client.post(
            "/api/v1/auth/login", data=body, headers={"Content-Type": content_type}
        )
        assert 400 <= response.status < 500, (body, response.status)
        problem = await response.json()
        assert problem["status"] == response.status
        assert problem["detail"]


async def test_api_routes_need_a_valid_token(make_client, add_account, make_settings):
    account = await add_account("erin", team="red")
    client = await make_client()
    headers = await login(client, account)
    ok = await client.get("/api/v1/datasets", headers=headers)
    assert ok.status == 200
    secret = make_settings().jwt_secret_key.get_secret_value()
    expired = jwt.encode(
        {"sub": "1", "username": "erin", "team_id": 1, "exp": int(time.time()) - 10},
        secret,
        algorithm="HS256",
    )
    forged = jwt.encode({"sub": "1", "username": "erin", "team_id": 1}, "other", algorithm="HS256")
    for auth in (
        None,
        "Bearer",
        "Basic abc",
        "Bearer not.a.token",
        f"Bearer {expired}",
        f"Bearer {forged}",
    ):
        response = await client.get(
            "/api/v1/datasets", headers={"Authorization": auth} if auth else {}
        )
        assert response.status == 401, (auth, response.status)
        assert response.content_type == "application/problem+json"

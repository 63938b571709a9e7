"""Logins under pressure and pools at their limit: a clear 401, 429 or 503, never a 500."""

from __future__ import annotations

import asyncio
import time

import pytest
from support import login

from luna.http.keys import DB, LIMITER


@pytest.mark.parametrize("limits_in", ["memory", "redis"])
async def test_parallel_guesses_meet_the_limit_like_sequential_ones(
    make_client, add_account, redis_url, run_id, limits_in
):
    # A name of this session's own: the Redis counters are shared by every test run.
    account = await add_account(f"mallory-{run_id}-{limits_in}", team="red")
    overrides = {"redis_url": redis_url} if limits_in == "redis" else {}
    client = await make_client(**overrides)
    if limits_in == "redis":
        # Counters of this test alone: the address key is shared by every run on the machine.
        client.app[LIMITER].prefix = f"luna:test:{run_id}:"  # type: ignore[attr-defined]

    async def attempt(password: str) -> int:
        response = await client.post(
            "/api/v1/auth/login", json={"username": account.username, "password": password}
        )
        return response.status

    guesses = [f"guess-{i}" for i in range(59)] + [account.password]
    statuses = await asyncio.gather(*(attempt(p) for p in guesses))
    assert statuses.count(401) == 10, statuses
    assert statuses.count(429) == 50, statuses
    # The right password came last, after ten failures: refused like the other 49.
    assert statuses[-1] == 429


async def test_a_successful_login_does_not_count_as_a_failure(make_client, add_account):
    account = await add_account("erin", team="red")
    client = await make_client()
    for _ in range(15):
        await login(client, account)
    wrong = await client.post("/api/v1/auth/login", json={"username": "erin", "password": "no"})
    assert wrong.status == 401


async def test_a_burst_of_logins_waits_its_turn_or_is_told_to_retry(make_client, add_account):
    """One password check at a time, each waiting at most 0.3 s for its turn: the burst
    answers 200 or 503 with Retry-After, never piling up unbounded work."""
    account = await add_account("frank", team="red")
    client = await make_client(luna_login_concurrency=1, luna_login_wait_s=0.3)
    body = {"username": "frank", "password": account.password}

    async def one_login() -> tuple[int, str | None]:
        response = await client.post("/api/v1/auth/login", json=body)
        await response.read()
        return response.status, response.headers.get("Retry-After")

    answers = await asyncio.gather(*(one_login() for _ in range(30)))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1
    assert statuses.count(503) >= 1, "30 checks one at a time cannot all start within 0.3 s"
    assert all(after and int(after) >= 1 for status, after in answers if status == 503)
    # Still serving logins once the burst has passed.
    await login(client, account)


async def test_a_busy_database_pool_answers_503_with_retry_after(make_client, add_account):
    account = await add_account("grace", team="red")
    client = await make_client(luna_db_pool_size=1, luna_pool_wait_s=0.2)
    headers = await login(client, account)
    held = await client.app[DB].acquire()
    try:
        started = time.perf_counter()
        response = await client.get("/api/v1/datasets", headers=headers)
        assert response.status == 503, await response.text()
        assert time.perf_counter() - started < 5
        assert response.content_type == "application/problem+json"
        assert int(response.headers["Retry-After"]) >= 1
        assert "database" in (await response.json())["detail"]
    finally:
        await client.app[DB].release(held)
    assert (await client.get("/api/v1/datasets", headers=headers)).status == 200


async def test_a_busy_redis_pool_answers_503_with_retry_after(
    make_client, add_account, redis_url, run_id
):
    account = await add_account(f"heidi-{run_id}", team="red")
    client = await make_client(redis_url=redis_url, luna_redis_pool_size=1, luna_pool_wait_s=0.2)
    pool = client.app[LIMITER].redis.connection_pool  # type: ignore[attr-defined]
    held = await pool.get_connection()
    try:
        response = await client.post(
            "/api/v1/auth/login",
            json={"username": account.username, "password": account.password},
        )
        assert response.status == 503, await response.text()
        assert int(response.headers["Retry-After"]) >= 1
        assert response.content_type == "application/problem+json"
    finally:
        await pool.release(held)
    await login(client, account)

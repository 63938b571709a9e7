"""Clients that open /events and never read must not stall anyone else: no pool connection
is held across a network write, every write has a deadline, and a stuck client is dropped."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time

import pytest
from status.seed import large_settled_dataset
from support import login, upload

from luna.db import queries

SLOW_READERS = 20
# How long each probe may take before it counts as stalled (the p95 goal is 100 ms).
PROBE_TIMEOUT_S = 3.0


def non_reading_client(host: str, port: int, path: str, headers: dict[str, str]) -> socket.socket:
    """A connection that asks for `path` and then never reads a byte of the answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive window (set before connecting), as a client on a slow link offers.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


@pytest.mark.timeout(240)
async def test_twenty_non_reading_event_streams_leave_other_teams_fast(
    make_client, add_account, db
):
    red = await add_account("alice", team="red")
    blue = await add_account("bob", team="blue")
    client = await make_client()
    red_h, blue_h = await login(client, red), await login(client, blue)
    alice = await queries.fetch_user(db, "alice")
    assert alice is not None
    large = await large_settled_dataset(
        db,
        team_id=alice.team_id,
        user_id=alice.id,
        files=100_000,
        findings={"image.corrupt": 150_000, "image.not_grayscale": 50_000},
    )
    await upload(client, blue_h, {"a.png": b"x"}, complete=False)
    bob = await queries.fetch_user(db, "bob")
    assert bob is not None
    blue_settled = await large_settled_dataset(
        db, team_id=bob.team_id, user_id=bob.id, files=10, findings={}
    )

    routes = ["/api/v1/datasets", f"/api/v1/validation/{blue_settled}/status", "/health"]
    # One untimed call each first, so one-off first-call costs are not timed as the baseline.
    # (A first /health once took over 3 s here with no stream open, on a machine shared with
    # two other test runs; its cause is not established.)
    for route in routes:
        await (await client.get(route, headers=blue_h)).read()
    baseline, failures = await probe(client, routes, blue_h, seconds=4.0)
    assert not failures, failures[:5]
    host, port = str(client.server.host), int(client.server.port or 0)
    readers = [
        non_reading_client(host, port, f"/api/v1/validation/{large}/events", red_h)
        for _ in range(SLOW_READERS)
    ]
    try:
        await asyncio.sleep(1.0)  # every stream has reached its handler
        loaded, failures = await probe(client, routes, blue_h, seconds=8.0)
    finally:
        for reader in readers:
            reader.close()
    assert not failures, failures[:5]
    print(f"p95 ms alone: {baseline}; with {SLOW_READERS} non-reading streams: {loaded}")
    # The goal is 100 ms; a machine busy with other work may be slower than that even with no
    # stream open, so the bar rises to twice what the same probes took just before.
    assert all(ms < max(100.0, 2 * baseline[route]) for route, ms in loaded.items()), (
        baseline,
        loaded,
    )


async def probe(
    client, routes: list[str], headers: dict[str, str], *, seconds: float
) -> tuple[dict[str, float], list[str]]:
    """Call each route in turn for `seconds`; p95 in ms per route, and what went wrong."""
    timings: dict[str, list[float]] = {route: [] for route in routes}
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for route in routes:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    response = await client.get(route, headers=headers)
                    await response.read()
                if response.status != 200:
                    failures.append(f"{route}: {response.status}")
            except TimeoutError:
                failures.append(f"{route}: no answer in {PROBE_TIMEOUT_S} s")
            timings[route].append(time.perf_counter() - started)
        await asyncio.sleep(0.02)
    return {route: round(p95(samples) * 1000, 1) for route, samples in timings.items()}, failures

"""The fault suite's harness: luna on real backends with a `FaultProxy` in front of each one,
and the one ending every scenario must reach.

    async def test_x(faulty_luna):
        luna = await faulty_luna(s3=True)          # luna reaches S3 through luna.s3
        dataset_id = await luna.submit(files=200)
        await luna.wait_running(dataset_id)
        luna.s3.answer_http_500()
        ...
        await luna.assert_every_job_ended_once()   # and a fresh dataset completes
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from support import declare, login, upload, wait_for_status

from faults.proxy import FaultProxy

# Not a valid PNG: every file earns findings, so a finding written twice would show.
BROKEN_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000


async def wait_for(predicate: Callable[[], Awaitable[Any]], *, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _proxy_for(url: str) -> FaultProxy:
    parts = urlsplit(url)
    return FaultProxy(parts.hostname or "127.0.0.1", parts.port or 0)


@dataclass
class FaultyLuna:
    """A running luna whose links to the services chosen go through fault proxies."""

    client: TestClient
    headers: dict[str, str]
    db: asyncpg.Pool  # the test's own, direct connection: never through a proxy
    s3: FaultProxy | None = None
    pg: FaultProxy | None = None
    amqp: FaultProxy | None = None
    submitted: list[int] = field(default_factory=list)

    async def submit(self, *, files: int, name: str | None = None, complete: bool = True) -> int:
        """Start, upload (many PUTs at once) and complete a dataset of `files` broken PNGs."""
        stored = {f"img{i:04d}.png": BROKEN_PNG for i in range(files)}
        response = await self.client.post(
            "/api/v1/upload/start",
            json={"dataset_name": name or f"d{len(self.submitted)}", "files": declare(stored)},
            headers=self.headers,
        )
        assert response.status == 200, await response.text()
        started = await response.json()
        puts = asyncio.Semaphore(16)

        async def put(session: aiohttp.ClientSession, entry: dict[str, Any]) -> None:
            async with (
                puts,
                session.put(
                    entry["upload_url"], data=stored[entry["filename"]], headers=entry["headers"]
                ) as answer,
            ):
                assert answer.status == 200, await answer.text()

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(put(session, e) for e in started["upload_urls"]))
        dataset_id = int(started["dataset_id"])
        if complete:
            await self.complete(dataset_id)
        return dataset_id

    async def complete(self, dataset_id: int) -> None:
        response = await self.client.post(
            "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=self.headers
        )
        assert response.status == 200, await response.text()
        self.submitted.append(dataset_id)

    async def wait_running(self, dataset_id: int, *, timeout_s: float = 60) -> None:
        """Until the job has made progress (so a fault now lands mid-job)."""

        async def running() -> bool:
            return bool(
                await self.db.fetchval(
                    "SELECT files_done > 0 FROM validation_jobs "
                    "WHERE id = $1 AND status = 'processing'",
                    dataset_id,
                )
            )

        await wait_for(running, timeout_s=timeout_s, what=f"job {dataset_id} to make progress")

    async def wait_settled(self, dataset_id: int, *, timeout_s: float = 90) -> dict[str, Any]:
        return await wait_for_status(self.client, dataset_id, self.headers, timeout_s=timeout_s)

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        response = await self.client.get("/readiness")
        return response.status, await response.json()

    async def assert_every_job_ended_once(self, *, timeout_s: float = 90) -> dict[int, str]:
        """Every submitted job completed, or failed with a reason, exactly once; no finding
        twice; and a dataset submitted now completes. Returns each job's status."""
        for dataset_id in self.submitted:
            await self.wait_settled(dataset_id, timeout_s=timeout_s)
        jobs = await self.db.fetch(
            "SELECT j.id, j.status, j.error_message, j.results, d.status AS dataset_status, "
            "  (SELECT count(*) FROM validation_logs l WHERE l.job_id = j.id "
            "   AND l.message LIKE 'validation finished%') AS finished, "
            "  (SELECT count(*) FROM findings f WHERE f.job_id = j.id) AS findings "
            "FROM validation_jobs j JOIN datasets d ON d.id = j.id WHERE j.id = ANY($1::bigint[])",
            self.submitted,
        )
        assert len(jobs) == len(self.submitted)
        for job in jobs:
            if job["status"] == "completed":
                assert job["finished"] == 1, dict(job)
                assert job["dataset_status"] == "validated", dict(job)
                summary = job["results"]["summary"]
                assert job["findings"] == summary["errors"] + summary["warnings"], dict(job)
            else:
                assert job["status"] == "failed", dict(job)
                assert job["error_message"], f"job {job['id']} failed without a reason"
                assert job["finished"] == 0 and job["dataset_status"] == "failed", dict(job)
        twice = await self.db.fetch(
            "SELECT job_id, rule, file, row, message FROM findings "
            "WHERE job_id = ANY($1::bigint[]) GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1",
            self.submitted,
        )
        assert not twice, f"findings written twice: {[dict(r) for r in twice[:5]]}"
        fresh = await upload(self.client, self.headers, {"fresh.png": BROKEN_PNG}, name="fresh")
        status = await wait_for_status(self.client, fresh, self.headers, timeout_s=timeout_s)
        assert status["status"] == "completed", status
        return {job["id"]: job["status"] for job in jobs}


@pytest.fixture
async def faulty_luna(
    make_client, add_account, db, database_url, s3_endpoint, amqp_url
) -> AsyncIterator[Callable[..., Awaitable[FaultyLuna]]]:
    """Start luna (in this process, real backends) with the chosen links through proxies."""
    async with AsyncExitStack() as stack:

        async def start(
            *, s3: bool = False, pg: bool = False, amqp: bool = False, **overrides: Any
        ) -> FaultyLuna:
            proxies: dict[str, FaultProxy | None] = {"s3": None, "pg": None, "amqp": None}
            if s3:
                proxies["s3"] = await stack.enter_async_context(_proxy_for(s3_endpoint))
                overrides["minio_endpoint"] = proxies["s3"].url_for(s3_endpoint)
            if pg:
                proxies["pg"] = await stack.enter_async_context(_proxy_for(database_url))
                overrides["database_url"] = proxies["pg"].url_for(database_url)
            if amqp:
                proxies["amqp"] = await stack.enter_async_context(_proxy_for(amqp_url))
                overrides["amqp_url"] = proxies["amqp"].url_for(amqp_url)
            overrides.setdefault("luna_validators", 2)
            client = await make_client(**overrides)
            # luna stops before its proxies close, so its shutdown sees the links healed.
            stack.push_async_callback(client.close)
            for proxy in proxies.values():
                if proxy is not None:
                    stack.callback(proxy.heal)
            account = await add_account("alice", team="red")
            headers = await login(client, account)
            return FaultyLuna(client, headers, db, **proxies)

        yield start

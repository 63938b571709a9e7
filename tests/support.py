"""Helpers the tests share: accounts, logging in, polling a dataset to its end."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aio_pika
from aiohttp.test_utils import TestClient


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    team: str
    team_id: int
    is_admin: bool


async def login(client: TestClient, account: Account) -> dict[str, str]:
    """Log in through the API; returns the Authorization header to send."""
    response = await client.post(
        "/api/v1/auth/login", json={"username": account.username, "password": account.password}
    )
    assert response.status == 200, await response.text()
    token = (await response.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def wait_for_status(
    client: TestClient,
    dataset_id: int,
    headers: dict[str, str],
    *,
    until: tuple[str, ...] = ("completed", "failed"),
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Poll the status route until the job reaches one of `until`; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/api/v1/validation/{dataset_id}/status", headers=headers)
        if response.status == 503:  # a backend blinked: retry, as clients are told to
            await asyncio.sleep(0.2)
            continue
        assert response.status == 200, await response.text()
        body = await response.json()
        if body["status"] in until:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"dataset {dataset_id} still {body.get('status')} after {timeout_s} s")


def declare(
    files: dict[str, bytes], *, content_type: str = "application/octet-stream"
) -> list[dict[str, Any]]:
    """The `files` list of upload/start for these stored bytes, declared truthfully."""
    import hashlib

    return [
        {
            "filename": name,
            "content_type": content_type,
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        for name, data in files.items()
    ]


async def upload(
    client: TestClient,
    headers: dict[str, str],
    files: dict[str, bytes],
    *,
    declared: list[dict[str, Any]] | None = None,
    name: str = "dataset",
    complete: bool = True,
) -> int:
    """Start a dataset, PUT each stored file to its presigned URL exactly as told, complete it."""
    import aiohttp

    response = await client.post(
        "/api/v1/upload/start",
        json={"dataset_name": name, "files": declared if declared is not None else declare(files)},
        headers=headers,
    )
    assert response.status == 200, await response.text()
    started = await response.json()
    async with aiohttp.ClientSession() as session:
        for entry in started["upload_urls"]:
            data = files.get(entry["filename"])
            if data is None:
                continue  # declared but never uploaded
            # aiohttp sets Content-Length from the body; a body whose length differs from the
            # declared size is what a store that cannot sign the length would accept.
            put_headers = {
                k: v for k, v in entry["headers"].items() if k.lower() != "content-length"
            }
            async with session.put(entry["upload_url"], data=data, headers=put_headers) as put:
                assert put.status == 200, await put.text()
    if complete:
        response = await client.post(
            "/api/v1/upload/complete", json={"dataset_id": started["dataset_id"]}, headers=headers
        )
        assert response.status == 200, await response.text()
    return int(started["dataset_id"])


async def wait_for_consumers(
    amqp_url: str, queue: str, count: int, *, timeout_s: float = 30
) -> None:
    deadline = time.monotonic() + timeout_s
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        while time.monotonic() < deadline:
            try:
                declared = await channel.declare_queue(queue, passive=True)
                if declared.declaration_result.consumer_count >= count:
                    return
            except aio_pika.exceptions.ChannelClosed:
                channel = await connection.channel()
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    raise AssertionError(f"fewer than {count} consumers on {queue} after {timeout_s} s")

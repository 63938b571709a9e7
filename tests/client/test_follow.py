"""Following validation: live over the events stream, by polling when the server has no
stream or the stream breaks."""

from __future__ import annotations

import asyncio

from support import login, upload

from luna.client.api import open_api
from luna.client.follow import follow_events, poll_status

# Bounds a hang (a job that never finishes), not a speed.
LIMIT_S = 60
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MANIFEST = b"filename,patient_id,label\na.png,p1,No Finding\n"


async def test_the_events_stream_delivers_progress_and_the_final_status(start_luna):
    luna = await start_luna()
    headers = await login(luna.client, luna.account)
    dataset_id = await upload(luna.client, headers, {"manifest.csv": MANIFEST, "a.png": PNG})
    seen: list[tuple[int, int, str]] = []
    async with open_api(luna.url) as api:
        await api.login(luna.account.username, luna.account.password)
        async with asyncio.timeout(LIMIT_S):
            final = await follow_events(api, dataset_id, on_progress=lambda *p: seen.append(p))
    assert final is not None, "the server offered no events stream"
    assert final["status"] == "completed"
    assert final["dataset_id"] == dataset_id
    assert seen[-1] == (2, 2, "completed")


async def test_polling_reaches_the_same_final_status(start_luna):
    luna = await start_luna()
    headers = await login(luna.client, luna.account)
    dataset_id = await upload(luna.client, headers, {"manifest.csv": MANIFEST, "a.png": PNG})
    seen: list[tuple[int, int, str]] = []
    async with open_api(luna.url) as api:
        await api.login(luna.account.username, luna.account.password)
        async with asyncio.timeout(LIMIT_S):
            final = await poll_status(
                api, dataset_id, on_progress=lambda *p: seen.append(p), interval_s=0.1
            )
    assert final["status"] == "completed"
    assert seen[-1] == (2, 2, "completed")


async def test_a_server_without_the_events_route_is_followed_by_polling(
    start_luna, submit, example, api_front
):
    luna = await start_luna()
    front, front_url = await api_front(luna.url, events="404")
    result = await submit(["--server", front_url, str(example())], env=luna.env())
    assert result.code == 0, result.err + result.out
    assert front.event_requests == 1
    assert front.status_requests >= 1
    assert "ACCEPTED" in result.out


async def test_a_stream_cut_midway_falls_back_to_polling(start_luna, submit, example, api_front):
    luna = await start_luna()
    front, front_url = await api_front(luna.url, events="cut")
    result = await submit(["--server", front_url, str(example())], env=luna.env())
    assert result.code == 0, result.err + result.out
    assert front.event_requests == 1
    assert front.status_requests >= 1
    assert "following by polling instead" in result.err
    assert "ACCEPTED" in result.out

"""Following a dataset's validation to its end: the events stream when the server has one,
polling the status route when it does not or when the stream breaks.

    status = await follow_validation(api, dataset_id, on_progress=show)
    status["status"]            # "completed" or "failed": the same body as the status route
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from luna.client.api import LunaApi
from luna.client.constants import POLL_INTERVAL_S, STATUS_READ_ATTEMPTS
from luna.client.errors import ApiError, ServerUnreachable
from luna.client.retry import backoff_delay_s, is_transient_status
from luna.client.sse import read_events

SETTLED = ("completed", "failed")
# progress(files_done, files_total, status)
OnProgress = Callable[[int, int, str], None]
OnNote = Callable[[str], None]


async def follow_validation(
    api: LunaApi,
    dataset_id: int,
    *,
    on_progress: OnProgress,
    on_note: OnNote | None = None,
    poll_interval_s: float = POLL_INTERVAL_S,
) -> dict[str, Any]:
    try:
        final = await follow_events(api, dataset_id, on_progress=on_progress)
    except (ServerUnreachable, ValueError) as exc:
        if on_note is not None:
            on_note(f"the live stream stopped ({exc}); following by polling instead")
        final = None
    if final is not None:
        return final
    return await poll_status(api, dataset_id, on_progress=on_progress, interval_s=poll_interval_s)


async def follow_events(
    api: LunaApi, dataset_id: int, *, on_progress: OnProgress
) -> dict[str, Any] | None:
    """The final status from the events stream; None when the server offers no stream
    (404, not `text/event-stream`) or it ended without a final status."""
    async with api.open_events(dataset_id) as response:
        if response.status in (404, 405, 406, 409, 501) or response.status >= 500:
            return None
        if response.status >= 400:
            from luna.client.api import problem_from

            raise problem_from(response.status, response.reason or "", await response.read())
        if response.content_type != "text/event-stream":
            return None
        async for event in read_events(response.content.iter_any()):
            body = orjson.loads(event.data)
            if event.name == "progress":
                on_progress(
                    int(body.get("files_done") or 0),
                    int(body.get("files_total") or 0),
                    str(body.get("status", "")),
                )
            elif event.name == "status" and body.get("status") in SETTLED:
                _show_final_progress(body, on_progress)
                return dict(body)
    return None


async def poll_status(
    api: LunaApi, dataset_id: int, *, on_progress: OnProgress, interval_s: float
) -> dict[str, Any]:
    failures = 0
    while True:
        try:
            body = await api.validation_status(dataset_id)
            failures = 0
        except (ServerUnreachable, ApiError) as exc:
            transient = isinstance(exc, ServerUnreachable) or is_transient_status(exc.status)
            failures += 1
            if not transient or failures >= STATUS_READ_ATTEMPTS:
                raise
            await asyncio.sleep(backoff_delay_s(failures))
            continue
        _show_final_progress(body, on_progress)
        if body.get("status") in SETTLED:
            return body
        await asyncio.sleep(interval_s)


def _show_final_progress(body: dict[str, Any], on_progress: OnProgress) -> None:
    progress = body.get("progress") or {}
    on_progress(
        int(progress.get("files_done") or 0),
        int(progress.get("files_total") or 0),
        str(body.get("status", "")),
    )

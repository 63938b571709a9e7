"""GET /api/v1/validation/{dataset_id}/events: progress and the final status as
Server-Sent Events.

    event: progress            (whenever files_done or the status changes)
    data: {"status": "processing", "files_done": 3, "files_total": 7}

    event: status              (once, when the job is completed or failed; then the stream ends)
    data: {...the same body as the status route...}
"""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from luna.db import queries
from luna.errors import Conflict
from luna.http.handlers.uploads import visible_dataset
from luna.http.handlers.validation import job_status
from luna.http.keys import DB, EVENTS, STATE
from luna.http.requests import caller, path_id
from luna.tasks import being_cancelled

# Re-read the job at least this often, whatever the notifications say.
RECHECK_INTERVAL_S = 2.0
# A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_INTERVAL_S = 15.0
SETTLED = ("completed", "failed")


async def _send(response: web.StreamResponse, event: str, data: object) -> None:
    await response.write(f"event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n")


async def validation_events(request: web.Request) -> web.StreamResponse:
    who = caller(request)
    dataset_id = path_id(request, "dataset_id")
    await visible_dataset(request, dataset_id, who)
    db, events = request.app[DB], request.app[EVENTS]
    job = await queries.fetch_job(db, dataset_id)
    if job is None:
        raise Conflict(
            f"dataset {dataset_id} is still uploading; call upload/complete once every file is stored"
        )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    last: tuple[str, int] | None = None
    last_write = time.monotonic()
    while job is not None and not request.app[STATE].get("draining") and not being_cancelled():
        seen = (job["status"], job["files_done"])
        if seen != last:
            last = seen
            last_write = time.monotonic()
            await _send(
                response,
                "progress",
                {
                    "status": job["status"],
                    "files_done": job["files_done"],
                    "files_total": job["files_total"],
                },
            )
        if job["status"] in SETTLED:
            async with db.acquire() as conn:
                await _send(response, "status", await job_status(conn, dataset_id))
            break
        if time.monotonic() - last_write >= KEEPALIVE_INTERVAL_S:
            await response.write(b": keep-alive\n\n")
            last_write = time.monotonic()
        await events.wait(dataset_id, timeout_s=RECHECK_INTERVAL_S)
        job = await queries.fetch_job(db, dataset_id)
    await response.write_eof()
    return response

"""GET /api/v1/validation/{dataset_id}/events: progress and the final status as
Server-Sent Events.

    event: progress            (whenever files_done or the status changes)
    data: {"status": "processing", "files_done": 3, "files_total": 7}

    event: status              (once, when the job is completed or failed; then the stream ends)
    data: {...the same body as the status route...}

A stream never holds a database connection while it writes: each read returns its connection
to the pool before the bytes go out. Every write has a deadline (`SSE_WRITE_TIMEOUT_S`); a
client that does not take an event within it is dropped, so a reader that stopped reading
costs a socket, never a share of the service.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
import orjson
from aiohttp import web

from luna import constants
from luna.auth import Principal
from luna.db import queries
from luna.errors import Conflict
from luna.http.handlers.uploads import visible_dataset
from luna.http.handlers.validation import SETTLED, status_body
from luna.http.keys import DB, EVENTS, STATE
from luna.http.requests import caller, path_id

log = logging.getLogger("luna.events")

# Re-read the job at least this often, whatever the notifications say.
RECHECK_INTERVAL_S = 2.0
# A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_INTERVAL_S = 15.0


class ClientGone(Exception):
    """The client went away or stopped reading; the stream ends."""


async def write_within(
    request: web.Request, response: web.StreamResponse, data: bytes, *, timeout_s: float
) -> None:
    """Write `data`, or drop the connection when the client does not take it in `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            await response.write(data)
    except TimeoutError:
        log.info("dropped an event stream: its client took nothing for %.0f s", timeout_s)
        if request.transport is not None:
            request.transport.abort()
        raise ClientGone from None
    except ConnectionError as exc:
        raise ClientGone from exc


async def _send(
    request: web.Request, response: web.StreamResponse, event: str, data: bytes
) -> None:
    await write_within(
        request,
        response,
        f"event: {event}\ndata: ".encode() + data + b"\n\n",
        timeout_s=constants.SSE_WRITE_TIMEOUT_S,
    )


async def validation_events(request: web.Request) -> web.StreamResponse:
    who = caller(request)
    dataset_id = path_id(request, "dataset_id")
    await visible_dataset(request, dataset_id, who)
    job = await queries.fetch_job(request.app[DB], dataset_id)
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
    try:
        await _stream(request, response, job, who=who, dataset_id=dataset_id)
        async with asyncio.timeout(constants.SSE_WRITE_TIMEOUT_S):
            await response.write_eof()
    except ClientGone:
        pass
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()
    return response


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    job: asyncpg.Record,
    *,
    who: Principal,
    dataset_id: int,
) -> None:
    db, events = request.app[DB], request.app[EVENTS]
    last: tuple[str, int] | None = None
    last_write = time.monotonic()
    row: asyncpg.Record | None = job
    # Draining is the process's decision to stop; a client that left makes the next write
    # raise, which ends the loop as well.
    while row is not None and not request.app[STATE].get("draining"):
        seen = (row["status"], row["files_done"])
        if seen != last:
            last = seen
            last_write = time.monotonic()
            progress = {
                "status": row["status"],
                "files_done": row["files_done"],
                "files_total": row["files_total"],
            }
            await _send(request, response, "progress", orjson.dumps(progress))
        if row["status"] in SETTLED:
            # The body is read (and its connection back in the pool) before it is written.
            body = await status_body(request, dataset_id, who)
            await _send(request, response, "status", body)
            return
        if time.monotonic() - last_write >= KEEPALIVE_INTERVAL_S:
            await write_within(
                request, response, b": keep-alive\n\n", timeout_s=constants.SSE_WRITE_TIMEOUT_S
            )
            last_write = time.monotonic()
        await events.wait(dataset_id, timeout_s=RECHECK_INTERVAL_S)
        row = await queries.fetch_job(db, dataset_id)

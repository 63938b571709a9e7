"""Probes and metrics: /health, /readiness, /liveness, /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aioprometheus.renderer import render

from luna import __version__
from luna.http.keys import DB, METRICS, POOL, QUEUE, STATE, STORE
from luna.http.responses import json_response

# A probe must answer before Kubernetes' own probe timeout (1 s by default).
_CHECK_TIMEOUT_S = 2.0
_READINESS_TIMEOUT_S = 0.8


async def _check(probe: Callable[[], Awaitable[object]], timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            await probe()
    except TimeoutError:
        return f"unavailable: no answer within {timeout_s} s"
    except Exception as exc:
        return f"unavailable: {exc}"[:300]
    return "ok"


async def health(request: web.Request) -> web.Response:
    app = request.app
    database, s3, broker = await asyncio.gather(
        _check(lambda: app[DB].fetchval("SELECT 1"), _CHECK_TIMEOUT_S),
        _check(app[STORE].ping, _CHECK_TIMEOUT_S),
        _check(app[QUEUE].ping, _CHECK_TIMEOUT_S),
    )
    healthy = database == s3 == broker == "ok"
    return json_response(
        {
            "status": "healthy" if healthy else "unhealthy",
            "database": database,
            "s3": s3,
            "broker": broker,
            "version": __version__,
            "backends": {
                "database": app[STATE].get("database_kind", "postgresql"),
                "s3": app[STORE].kind,
                "broker": app[QUEUE].kind,
            },
        },
        status=200 if healthy else 503,
    )


async def liveness(request: web.Request) -> web.Response:
    # Answering at all is the proof: the event loop is turning.
    return json_response({"status": "alive"})


async def readiness(request: web.Request) -> web.Response:
    """Ready to take work: started, not draining, the database answers, and (where this
    process runs validators) at least one validator is live. The body says how many of
    the configured validators are, so a pod wedged with none is restarted."""
    state = request.app[STATE]
    if not state.get("ready") or state.get("draining"):
        return json_response({"status": "not ready"}, status=503)
    body: dict[str, object] = {}
    pool = request.app.get(POOL)
    if pool is not None and pool.size > 0:
        body["validators"] = {"live": pool.live_validators, "configured": pool.size}
        if pool.live_validators == 0:
            return json_response({"status": "not ready", **body}, status=503)
    if DB in request.app:
        database = await _check(lambda: request.app[DB].fetchval("SELECT 1"), _READINESS_TIMEOUT_S)
        if database != "ok":
            return json_response({"status": "not ready", "database": database, **body}, status=503)
    return json_response({"status": "ready", **body})


async def metrics(request: web.Request) -> web.Response:
    body, headers = render(request.app[METRICS].registry, request.headers.getall("Accept", []))
    return web.Response(body=body, headers=headers)

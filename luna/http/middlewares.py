"""Middlewares, outermost first: observe (request id, log line, metrics), CORS, problems
(every error becomes RFC 9457 problem+json), then authentication (aiohttp-jwt)."""

from __future__ import annotations

import logging
import secrets
import time

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from luna.constants import MAX_REQUEST_BODY_BYTES
from luna.errors import BackendUnavailable, ProblemError
from luna.http.keys import IDENTITIES, METRICS, PRINCIPAL
from luna.http.responses import problem_response
from luna.observability import log_context

log = logging.getLogger("luna.http")

_REQUEST_ID_HEADER = "X-Request-ID"


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id, one log line and its place in the HTTP metrics."""
    incoming = request.headers.get(_REQUEST_ID_HEADER, "")
    request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else None
    request_id = request_id or secrets.token_hex(8)
    started = time.perf_counter()
    status = 500
    with log_context(request_id=request_id):
        try:
            response = await handler(request)
            status = response.status
            response.headers[_REQUEST_ID_HEADER] = request_id
            return response
        finally:
            elapsed_s = time.perf_counter() - started
            route = _route_name(request)
            metrics = request.app[METRICS]
            labels = {"method": request.method, "route": route}
            metrics.http_requests.inc({**labels, "status": str(status)})
            metrics.http_duration.observe(labels, elapsed_s)
            if route not in ("/liveness", "/readiness", "/metrics", "/api/v1/metrics"):
                log.info(
                    "%s %s %s",
                    request.method,
                    request.path,
                    status,
                    extra={"fields": {"status": status, "duration_ms": round(elapsed_s * 1000, 1)}},
                )


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every error to problem+json; unexpected ones are logged with their context."""
    try:
        return await handler(request)
    except ProblemError as exc:
        return problem_response(
            exc.status, exc.title, exc.detail, errors=exc.errors, headers=exc.headers
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = exc.reason if exc.text in (None, "", f"{exc.status}: {exc.reason}") else exc.text
        if exc.status == 413:
            detail = f"the request body is larger than {MAX_REQUEST_BODY_BYTES} bytes"
        if exc.status == 404 and request.match_info.route.resource is None:
            detail = f"no route {request.method} {request.path}"
        headers = {}
        if exc.status == 405:
            allowed = exc.headers.get("Allow", "")
            detail = f"{request.method} is not allowed on {request.path}; use {allowed}"
            headers["Allow"] = allowed
        return problem_response(exc.status, exc.reason, str(detail), headers=headers)
    except BackendUnavailable as exc:
        log.warning("backend unavailable: %s", exc)
        return _unavailable(exc.backend)
    except (
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,
        OSError,
    ) as exc:
        log.warning("database unavailable: %r", exc)
        return _unavailable("database")
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return problem_response(
            500, "Internal Server Error", "luna failed unexpectedly; the organisers have the log"
        )


@web.middleware
async def routed(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a path luna does not serve (404) or a method it does not allow (405) before
    asking for a token: a wrong URL must not read as a wrong password."""
    error = request.match_info.http_exception
    if error is not None:
        raise error
    return await handler(request)


@web.middleware
async def identify(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who the token's bearer is now (luna.identity): a deleted or changed user's token, or
    one without an expiry, gets 401 here, before any handler trusts its claims."""
    claims = request.get("payload")
    if isinstance(claims, dict):
        request[PRINCIPAL] = await request.app[IDENTITIES].principal(claims)
    return await handler(request)


def _unavailable(backend: str) -> web.Response:
    return problem_response(
        503,
        "Service Unavailable",
        f"{backend} is unavailable right now; nothing was lost, retry in a few seconds",
        headers={"Retry-After": "5"},
    )


_CORS_ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
_CORS_ALLOW_METHODS = "GET, POST, PUT, OPTIONS"
# Browsers may cache a preflight answer this long.
_CORS_MAX_AGE_S = 600


def cors(origins: list[str]) -> Middleware:
    """Let browser clients from CORS_ORIGINS (or `*`) call the API, preflight included."""
    allow_any = "*" in origins

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and (allow_any or origin in origins)
        preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if preflight and allowed:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if allowed and not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = "*" if allow_any else str(origin)
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
            if preflight:
                response.headers["Access-Control-Allow-Methods"] = _CORS_ALLOW_METHODS
                response.headers["Access-Control-Allow-Headers"] = _CORS_ALLOW_HEADERS
                response.headers["Access-Control-Max-Age"] = str(_CORS_MAX_AGE_S)
        return response

    return middleware

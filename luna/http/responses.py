"""JSON and problem+json responses, serialised with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from luna.errors import ProblemError


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body, default=str),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    problem = ProblemError(detail, errors=errors)
    problem.status, problem.title = status, title
    return web.Response(
        body=orjson.dumps(problem.as_problem()),
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )

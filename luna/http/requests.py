"""Reading what a request carries: its JSON body, form, caller and query parameters."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from luna.auth import Principal
from luna.errors import BadRequest, Unauthorized, Unprocessable
from luna.http.keys import PRINCIPAL
from luna.http.models import field_errors

Model = TypeVar("Model", bound=BaseModel)


async def read_json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


async def read_form_or_json(request: web.Request) -> dict[str, Any]:
    """A form-urlencoded or multipart body as a dict, or a JSON object."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.post()
        except ValueError as exc:
            raise BadRequest(f"the form body cannot be read: {exc}") from None
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return await read_json_object(request)


def parse(model: type[Model], body: dict[str, Any]) -> Model:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = field_errors(exc)
        first = errors[0]
        raise Unprocessable(
            f"{first['field']}: {first['message']}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            errors=errors,
        ) from None


def caller(request: web.Request) -> Principal:
    who = request.get(PRINCIPAL)
    if who is not None:
        return who
    claims = request.get("payload")
    if not isinstance(claims, dict):
        raise Unauthorized("log in first: send Authorization: Bearer <token>")
    try:
        return Principal.from_claims(claims)
    except (KeyError, TypeError, ValueError):
        raise Unauthorized("the token does not carry a luna identity; log in again") from None


def is_decimal(raw: str) -> bool:
    """True for ASCII digits only: `str.isdigit()` also accepts '²' and '٣', which int() refuses
    or reads as another number."""
    return raw.isascii() and raw.isdigit()


def path_id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not is_decimal(raw) or len(raw) > 18:
        raise BadRequest(f"{name} must be a positive integer, not {raw!r}")
    return int(raw)


def query_int(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not is_decimal(raw) or len(raw) > 18 or not low <= int(raw) <= high:
        raise BadRequest(f"query parameter {name} must be an integer from {low} to {high}")
    return int(raw)


def query_cursor(request: web.Request, *, high: int = 2**63 - 1) -> int | None:
    """The `cursor` query parameter; `high` is the largest value its column holds."""
    raw = request.query.get("cursor")
    if raw is None or raw == "":
        return None
    if not is_decimal(raw) or len(raw) > 18 or int(raw) > high:
        raise BadRequest("cursor must be the next_cursor value of a previous page")
    return int(raw)

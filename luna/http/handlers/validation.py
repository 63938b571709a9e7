"""GET /api/v1/validation/{dataset_id}/status, /findings and /files: how a dataset's
validation went.

The status body costs the same for 10 files and 100,000: PostgreSQL builds it in one round
trip from the job row, its logs, the capped findings and per-rule totals stored at commit,
and the first `FILES_IN_STATUS` files; `/findings` and `/files` page through the rest.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from luna import constants
from luna.auth import Principal
from luna.db import queries
from luna.errors import BadRequest, Conflict, NotFound
from luna.http.handlers.uploads import ABANDONED, visible_dataset
from luna.http.keys import DB, STATUS_CACHE
from luna.http.requests import caller, path_id, query_cursor, query_int
from luna.http.responses import json_response
from luna.validation.ruleset import SEVERITY

_SEVERITIES = ("error", "warning")
SETTLED = ("completed", "failed")


def _finding(row: Any) -> dict[str, Any]:
    return {
        "rule": row["rule"],
        "severity": row["severity"],
        "file": row["file"],
        "row": row["row"],
        "message": row["message"],
    }


def _still_uploading(dataset_id: int) -> Conflict:
    return Conflict(
        f"dataset {dataset_id} is still uploading; call upload/complete once every file is stored"
    )


def _not_found(dataset_id: int) -> NotFound:
    return NotFound(f"dataset {dataset_id} does not exist or is not your team's")


async def status_body(request: web.Request, dataset_id: int, who: Principal) -> bytes:
    """The status body as JSON bytes: a settled job's from this replica's memory (its team
    checked against the caller's), anything else built by PostgreSQL in one round trip.

    404 when the dataset is absent or another team's; 409 before upload/complete.
    """
    cache = request.app[STATUS_CACHE]
    kept = cache.get(dataset_id)
    if kept is not None:
        team_id, body = kept
        if team_id != who.team_id and not who.is_admin:
            raise _not_found(dataset_id)
        return body
    row = await queries.fetch_status(
        request.app[DB], dataset_id, files_shown=constants.FILES_IN_STATUS
    )
    if row is None or (row["team_id"] != who.team_id and not who.is_admin):
        raise _not_found(dataset_id)
    if row["body"] is None and row["dataset_status"] == "abandoned":
        raise Conflict(ABANDONED.format(id=dataset_id))
    if row["body"] is None:
        raise _still_uploading(dataset_id)
    body = row["body"].encode()
    if row["status"] in SETTLED:
        cache.put(dataset_id, team_id=row["team_id"], body=body)
    return body


async def validation_status(request: web.Request) -> web.Response:
    who = caller(request)
    body = await status_body(request, path_id(request, "dataset_id"), who)
    return web.Response(body=body, content_type="application/json")


def _stored_total(totals: dict[str, int], *, rule: str | None, severity: str | None) -> int:
    return sum(
        count
        for name, count in totals.items()
        if (rule is None or name == rule) and (severity is None or SEVERITY.get(name) == severity)
    )


async def validation_findings(request: web.Request) -> web.Response:
    who = caller(request)
    dataset_id = path_id(request, "dataset_id")
    await visible_dataset(request, dataset_id, who)
    severity = request.query.get("severity") or None
    if severity is not None and severity not in _SEVERITIES:
        raise BadRequest("severity must be 'error' or 'warning'")
    rule = request.query.get("rule") or None
    limit = query_int(
        request,
        "limit",
        default=constants.FINDINGS_PAGE_DEFAULT,
        low=1,
        high=constants.FINDINGS_PAGE_MAX,
    )
    # Findings are numbered in an int4 column.
    after = query_cursor(request, high=2**31 - 1) or 0
    db = request.app[DB]
    rows = await queries.fetch_findings_page(
        db, dataset_id, rule=rule, severity=severity, after_seq=after, limit=limit
    )
    totals = await queries.fetch_findings_totals(db, dataset_id)
    if totals is not None:
        total = _stored_total(totals, rule=rule, severity=severity)
    else:
        total = await queries.count_findings(db, dataset_id, rule=rule, severity=severity)
    next_cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
    return json_response(
        {"items": [_finding(r) for r in rows], "total": total, "next_cursor": next_cursor}
    )


async def validation_files(request: web.Request) -> web.Response:
    """Every stored file's facts, in the order they were declared, a page at a time."""
    who = caller(request)
    dataset_id = path_id(request, "dataset_id")
    owner = await visible_dataset(request, dataset_id, who)
    if owner["status"] == "abandoned":
        raise Conflict(ABANDONED.format(id=dataset_id))
    if owner["status"] == "uploading":
        raise _still_uploading(dataset_id)
    limit = query_int(
        request,
        "limit",
        default=constants.FILES_PAGE_DEFAULT,
        low=1,
        high=constants.FILES_PAGE_MAX,
    )
    rows, total = await queries.fetch_files_page(
        request.app[DB], dataset_id, after_file_id=query_cursor(request) or 0, limit=limit
    )
    items = [
        {
            "filename": r["filename"],
            "size_bytes": r["size_bytes"],
            "sha256": r["sha256"],
            "format": r["format"],
            "width": r["width"],
            "height": r["height"],
        }
        for r in rows
    ]
    next_cursor = str(rows[-1]["file_id"]) if len(rows) == limit else None
    return json_response({"items": items, "total": total, "next_cursor": next_cursor})

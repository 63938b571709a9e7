"""GET /api/v1/validation/{dataset_id}/status and /findings: how a dataset's validation went."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from luna import constants
from luna.db import queries
from luna.errors import BadRequest, Conflict
from luna.http.handlers.uploads import ABANDONED, visible_dataset
from luna.http.keys import DB
from luna.http.requests import caller, path_id, query_cursor, query_int
from luna.http.responses import json_response

_SEVERITIES = ("error", "warning")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _finding(row: Any) -> dict[str, Any]:
    return {
        "rule": row["rule"],
        "severity": row["severity"],
        "file": row["file"],
        "row": row["row"],
        "message": row["message"],
    }


async def job_status(conn: Any, dataset_id: int) -> dict[str, Any] | None:
    """The contract's status body for a dataset's job, findings capped per rule."""
    job = await queries.fetch_job(conn, dataset_id)
    if job is None:
        return None
    logs = await queries.fetch_logs(conn, dataset_id)
    results = job["results"]
    if results is not None:
        per_rule = constants.FINDINGS_PER_RULE_IN_STATUS
        shown = await queries.fetch_capped_findings(conn, dataset_id, per_rule=per_rule)
        totals = await queries.count_findings_by_rule(conn, dataset_id)
        results = {
            **results,
            "findings": [_finding(r) for r in shown],
            "findings_total": {r["rule"]: r["total"] for r in totals},
            "findings_truncated": any(r["total"] > per_rule for r in totals),
        }
    return {
        "dataset_id": dataset_id,
        "validation_job_id": job["id"],
        "status": job["status"],
        "started_at": _iso(job["started_at"]),
        "completed_at": _iso(job["completed_at"]),
        "error_message": job["error_message"],
        "progress": {"files_done": job["files_done"], "files_total": job["files_total"]},
        "validation_logs": [
            {"timestamp": _iso(r["logged_at"]), "level": r["level"], "message": r["message"]}
            for r in logs
        ],
        "validation_results": results,
    }


async def validation_status(request: web.Request) -> web.Response:
    who = caller(request)
    dataset_id = path_id(request, "dataset_id")
    owner = await visible_dataset(request, dataset_id, who)
    async with request.app[DB].acquire() as conn:
        body = await job_status(conn, dataset_id)
    if body is None and owner["status"] == "abandoned":
        raise Conflict(ABANDONED.format(id=dataset_id))
    if body is None:
        raise Conflict(
            f"dataset {dataset_id} is still uploading; call upload/complete once every file is stored"
        )
    return json_response(body)


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
    rows, total = await queries.fetch_findings_page(
        request.app[DB], dataset_id, rule=rule, severity=severity, after_seq=after, limit=limit
    )
    next_cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
    return json_response(
        {"items": [_finding(r) for r in rows], "total": total, "next_cursor": next_cursor}
    )

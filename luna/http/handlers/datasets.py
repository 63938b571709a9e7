"""GET /api/v1/datasets: the caller's team's datasets, newest first (organisers: all)."""

from __future__ import annotations

from aiohttp import web

from luna import constants
from luna.db import queries
from luna.http.keys import DB
from luna.http.requests import caller, query_cursor, query_int
from luna.http.responses import json_response


async def list_datasets(request: web.Request) -> web.Response:
    who = caller(request)
    limit = query_int(
        request,
        "limit",
        default=constants.DATASETS_PAGE_DEFAULT,
        low=1,
        high=constants.DATASETS_PAGE_MAX,
    )
    rows = await queries.list_datasets(
        request.app[DB],
        team_id=None if who.is_admin else who.team_id,
        before_id=query_cursor(request),
        limit=limit,
    )
    items = [
        {
            "dataset_id": r["dataset_id"],
            "dataset_name": r["dataset_name"],
            "team_id": r["team_id"],
            "team": r["team"],
            "status": r["status"],
            "verdict": r["verdict"],
            "created_at": r["created_at"].isoformat(),
            "files": r["files"],
            "bytes": r["bytes"],
        }
        for r in rows
    ]
    next_cursor = str(rows[-1]["dataset_id"]) if len(rows) == limit else None
    return json_response({"items": items, "next_cursor": next_cursor})

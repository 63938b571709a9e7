"""GET /api/v1/datasets: the caller's team's datasets, newest first (organisers: all);
GET /api/v1/datasets/{id}: one of them, and whether its stored objects are still the versions
`upload/complete` recorded (and validation read)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from luna import constants
from luna.db import queries
from luna.errors import NotFound
from luna.http.keys import DB, STORE
from luna.http.requests import caller, path_id, query_cursor, query_int
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
    items = [_item(r) for r in rows]
    next_cursor = str(rows[-1]["dataset_id"]) if len(rows) == limit else None
    return json_response({"items": items, "next_cursor": next_cursor})


def _item(r: Any) -> dict[str, Any]:
    return {
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


async def dataset_detail(request: web.Request) -> web.Response:
    who = caller(request)
    dataset_id = path_id(request, "dataset_id")
    row = await queries.fetch_dataset(request.app[DB], dataset_id)
    if row is None or (row["team_id"] != who.team_id and not who.is_admin):
        raise NotFound(f"dataset {dataset_id} does not exist or is not your team's")
    changed: list[dict[str, str]] = []
    recorded_at = row["objects_recorded_at"]
    if recorded_at is not None:
        changed = await changed_objects(request, dataset_id)
    body = _item(row)
    body.update(
        objects_recorded_at=None if recorded_at is None else recorded_at.isoformat(),
        objects_changed=changed[: constants.CHANGED_OBJECTS_SHOWN],
        objects_changed_total=len(changed),
    )
    return json_response(body)


async def changed_objects(request: web.Request, dataset_id: int) -> list[dict[str, str]]:
    """Declared files whose stored ETag is not the one `upload/complete` recorded."""
    recorded = await queries.fetch_recorded_etags(request.app[DB], dataset_id)
    now = await request.app[STORE].etags(f"datasets/{dataset_id}/") or {}
    changed = []
    for r in recorded:
        then, current = r["etag"], now.get(r["s3_key"])
        if then == current:
            continue
        change = "added" if then is None else "removed" if current is None else "replaced"
        changed.append({"filename": r["filename"], "change": change})
    return changed

"""GET /api/v1/admin/overview: what an organiser on call looks at first. The queue (length,
oldest unsettled job's age), the live processes and their validators, and each team's quota
use. Organisers only (403 for team members)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from luna.db import queries
from luna.errors import Forbidden
from luna.http.keys import DB, QUEUE, ROSTER, SETTINGS
from luna.http.requests import caller
from luna.http.responses import json_response
from luna.quotas import Quota, next_utc_midnight


async def overview(request: web.Request) -> web.Response:
    if not caller(request).is_admin:
        raise Forbidden("the overview is for organisers; your team's datasets are at /datasets")
    app, settings = request.app, request.app[SETTINGS]
    async with app[DB].acquire() as conn:
        oldest_s = await queries.oldest_unsettled_age_s(conn)
        teams = await queries.teams_usage(
            conn, upload_urls_live_s=settings.luna_upload_url_expires_s
        )
    now = time.monotonic()
    resets_at = next_utc_midnight(datetime.now(UTC)).isoformat()
    return json_response(
        {
            "queue": {
                "length": await app[QUEUE].length(),
                "oldest_job_age_s": round(oldest_s, 1),
            },
            "workers": [beat.as_dict(now=now) for beat in app[ROSTER].live()],
            "teams": [_team(row, Quota.for_team(row, settings), resets_at) for row in teams],
        }
    )


def _team(row: asyncpg.Record, quota: Quota, resets_at: str) -> dict[str, object]:
    return {
        "team_id": row["team_id"],
        "team": row["team"],
        "datasets": row["datasets"],
        "datasets_today": row["datasets_today"],
        "datasets_per_day": quota.datasets_per_day,
        "datasets_reset_at": resets_at,
        "bytes_stored": row["bytes_stored"],
        "bytes_stored_limit": quota.bytes_stored,
    }

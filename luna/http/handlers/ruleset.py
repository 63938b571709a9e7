"""GET /api/v1/ruleset: the dataset rules as data, so a client (the web console) can check a
manifest before uploading anything with the very vocabulary the validators use."""

from __future__ import annotations

from aiohttp import web

from luna.http.responses import json_response
from luna.validation import ruleset as rs


async def describe_ruleset(request: web.Request) -> web.Response:
    return json_response(
        {
            "ruleset": rs.RULESET,
            "manifest": rs.MANIFEST_NAME,
            "required_columns": list(rs.REQUIRED_COLUMNS),
            "optional_columns": list(rs.OPTIONAL_COLUMNS),
            "labels": list(rs.LABELS),
            "no_finding": rs.NO_FINDING,
            "label_separator": rs.LABEL_SEPARATOR,
            "splits": list(rs.SPLITS),
            "views": list(rs.VIEWS),
            "patient_id_pattern": f"^{rs.PATIENT_ID_PATTERN.pattern}$",
            "patient_id_max_chars": rs.PATIENT_ID_MAX_CHARS,
            "image_extensions": sorted(rs.IMAGE_EXTENSIONS),
            "min_side_px": rs.MIN_SIDE_PX,
            "max_side_px": rs.MAX_SIDE_PX,
            "rules": [{"rule": rule, "severity": rs.SEVERITY[rule]} for rule in rs.SEVERITY],
        }
    )

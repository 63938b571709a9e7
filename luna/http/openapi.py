"""The OpenAPI 3.1 document luna serves at /api/v1/openapi.json, built from the request models
the handlers parse with (`luna.http.models`) and the response models in `luna.http.schemas`.

Every route the app registers must have its `Operation` in `OPERATIONS` (a test checks it).
Adding a route is one entry:

    Operation("GET", "/api/v1/datasets/{dataset_id}", "One dataset", tag="datasets",
              params=(DATASET_ID,), answers={200: Answer("The dataset", DatasetItem)},
              problems=(404,))

`document(app)` lists the operations of the routes `app` registered, so a process documents
what it serves (the embedded store's `PUT /store/{key}` only where the store is embedded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from luna import __version__, constants
from luna.http import schemas
from luna.http.handlers.parts import PartsRequest
from luna.http.handlers.upload_urls import UploadUrlsRequest
from luna.http.models import (
    MAX_ID,
    LoginRequest,
    UploadCompleteRequest,
    UploadStartRequest,
)

PROBLEM_JSON = "application/problem+json"
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Param:
    """A path or query parameter."""

    name: str
    where: Literal["path", "query"]
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Answer:
    """A successful answer: a model (JSON) or a raw schema for another media type."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    schema: Mapping[str, Any] | None = None
    example: Any = None


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    answers: Mapping[int, Answer]
    problems: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    body_example: Any = None
    form_body: bool = False
    params: tuple[Param, ...] = ()
    public: bool = False
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


# What each problem status means across the API; operations name the ones they can answer.
PROBLEMS: dict[int, str] = {
    400: "The request is malformed (body, parameter); `detail` says what to fix.",
    401: "No token, or a bad or expired one: log in again.",
    403: "Authenticated, but not allowed (another team's id, a refused upload URL).",
    404: "Absent, or another team's.",
    409: "The resource's state forbids this now; `detail` says what to do.",
    413: "A body, file or quota limit is exceeded; `errors` names the limit.",
    422: "Well-formed but invalid values; `errors` names each field.",
    429: "Too many failed logins, or the team's daily dataset quota; see `Retry-After`.",
    503: "A backing service is unavailable; nothing was lost, retry after `Retry-After`.",
}
# Every route behind the token answers 401 without one, and 503 while a backend is down.
AUTHENTICATED = (401, 503)
# Every JSON body is read, parsed and validated.
WITH_BODY = (400, 413, 422)

DATASET_ID = Param(
    "dataset_id",
    "path",
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "The dataset's id (as returned by upload/start).",
    required=True,
)
LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": constants.DATASETS_PAGE_MAX},
    f"Page size (default {constants.DATASETS_PAGE_DEFAULT}).",
)
CURSOR = Param(
    "cursor",
    "query",
    {"type": "string", "pattern": "^[0-9]{1,18}$"},
    "The `next_cursor` of the previous page; leave out for the first page.",
)

_TOKEN_EXAMPLE = {
    "access_token": "eyJhbGciOiJIUzI1NiJ9...",
    "token_type": "bearer",
    "expires_in": 43200,
}
_PNG = {"filename": "images/p001_a.png", "content_type": "image/png", "size_bytes": 312734}
_START_EXAMPLE = {
    "dataset_name": "chest-xray-batch-3",
    "description": "Second hospital, PA views",
    "files": [
        {"filename": "manifest.csv", "content_type": "text/csv", "size_bytes": 412},
        {
            **_PNG,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        },
    ],
}
_UPLOAD_URL_EXAMPLE = {
    "file_id": 2,
    "filename": "images/p001_a.png",
    "upload_url": "https://uploads.luna.example.org/luna-datasets/datasets/17/images/p001_a.png?X-Amz-Signature=...",
    "s3_key": "datasets/17/images/p001_a.png",
    "method": "PUT",
    "headers": {"Content-Type": "image/png", "Content-Length": "312734"},
}
_FINDING_EXAMPLE = {
    "rule": "manifest.bad_label",
    "severity": "error",
    "file": "manifest.csv",
    "row": 4,
    "message": "label 'Pneumonai' is not in the vocabulary; did you mean 'Pneumonia'?",
}
_STATUS_EXAMPLE = {
    "dataset_id": 17,
    "validation_job_id": 17,
    "status": "completed",
    "started_at": "2025-03-01T10:00:01+00:00",
    "completed_at": "2025-03-01T10:00:09+00:00",
    "error_message": None,
    "progress": {"files_done": 7, "files_total": 7},
    "validation_logs": [
        {"timestamp": "2025-03-01T10:00:09+00:00", "level": "INFO", "message": "rejected"}
    ],
    "validation_results": {
        "verdict": "rejected",
        "ruleset": "luna2025-xray-v1",
        "summary": {"errors": 1, "warnings": 0},
        "findings": [_FINDING_EXAMPLE],
        "findings_total": {"manifest.bad_label": 1},
        "findings_truncated": False,
        "stats": {"images": 6, "patients": 4, "bytes": 1843200},
        "files": [],
        "files_total": 0,
        "files_truncated": False,
    },
}

HEALTH = Operation(
    "GET",
    "/health",
    "Every backend's health",
    tag="probes",
    public=True,
    answers={
        200: Answer("All backends answer", schemas.Health),
        503: Answer("A backend does not answer; its entry says why", schemas.Health),
    },
)
METRICS = Operation(
    "GET",
    "/metrics",
    "Prometheus metrics",
    tag="probes",
    public=True,
    answers={
        200: Answer("Prometheus text format", media_type="text/plain", schema={"type": "string"}),
    },
)


def original_path(operation: Operation, path: str) -> Operation:
    """The same operation served under the original LUNA2025 spec's path."""
    return replace(
        operation,
        path=path,
        summary=f"{operation.summary} (the original LUNA2025 path of {operation.path})",
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/api/v1/auth/login",
        "Log in for an access token",
        tag="auth",
        public=True,
        body=LoginRequest,
        body_example={"username": "alice", "password": "correct horse battery staple"},
        form_body=True,
        answers={200: Answer("A bearer token", schemas.Token, example=_TOKEN_EXAMPLE)},
        problems=(*WITH_BODY, 401, 429, 503),
        description="JSON or form-urlencoded. Failed logins are limited per user and address.",
    ),
    Operation(
        "POST",
        "/api/v1/upload/start",
        "Declare a dataset and get an upload URL per file",
        tag="uploads",
        body=UploadStartRequest,
        body_example=_START_EXAMPLE,
        answers={
            200: Answer(
                "The dataset id and one presigned PUT per file",
                schemas.UploadStarted,
                example={
                    "dataset_id": 17,
                    "upload_urls": [_UPLOAD_URL_EXAMPLE],
                    "expires_in": 3600,
                },
            )
        },
        problems=(*AUTHENTICATED, *WITH_BODY, 403, 429),
        description="Files above the multipart threshold also get a `multipart` plan; "
        "413/429 answer the team's quotas.",
    ),
    Operation(
        "POST",
        "/api/v1/upload/complete",
        "Hand the uploaded dataset over for validation",
        tag="uploads",
        body=UploadCompleteRequest,
        body_example={"dataset_id": 17},
        answers={
            200: Answer(
                "The validation job (the same one on a repeat)",
                schemas.UploadCompleted,
                example={
                    "dataset_id": 17,
                    "validation_job_id": 17,
                    "status": "pending",
                    "message": "validation is queued; follow it at /api/v1/validation/17/status",
                },
            )
        },
        problems=(*AUTHENTICATED, *WITH_BODY, 404, 409),
    ),
    Operation(
        "POST",
        "/api/v1/upload/parts",
        "Presigned URLs for parts of a large file",
        tag="uploads",
        body=PartsRequest,
        body_example={"dataset_id": 17, "file_id": 3, "part_numbers": [1, 2, 3]},
        answers={200: Answer("One URL per part asked for", schemas.PartUrls)},
        problems=(*AUTHENTICATED, *WITH_BODY, 404, 409),
    ),
    Operation(
        "GET",
        "/api/v1/upload/parts",
        "The parts of a large file already stored",
        tag="uploads",
        params=(
            Param(
                "dataset_id",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "The dataset's id.",
                required=True,
            ),
            Param(
                "file_id",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "The file's id (from upload/start).",
                required=True,
            ),
        ),
        answers={200: Answer("The usable stored parts and the file's plan", schemas.StoredParts)},
        problems=(*AUTHENTICATED, 400, 404, 409),
    ),
    Operation(
        "POST",
        "/api/v1/upload/urls",
        "Fresh upload URLs for a dataset still uploading",
        tag="uploads",
        body=UploadUrlsRequest,
        body_example={"dataset_id": 17, "file_ids": [2]},
        answers={200: Answer("New single-PUT URLs", schemas.FreshUploadUrls)},
        problems=(*AUTHENTICATED, *WITH_BODY, 404, 409),
    ),
    Operation(
        "GET",
        "/api/v1/datasets",
        "The team's datasets, newest first (organisers: every team's)",
        tag="datasets",
        params=(LIMIT, CURSOR),
        answers={200: Answer("One page of datasets", schemas.DatasetPage)},
        problems=(*AUTHENTICATED, 400),
    ),
    Operation(
        "GET",
        "/api/v1/datasets/{dataset_id}",
        "One dataset, and whether its stored objects changed after upload/complete",
        tag="datasets",
        params=(DATASET_ID,),
        answers={200: Answer("The dataset", schemas.DatasetDetail)},
        problems=(*AUTHENTICATED, 400, 404),
    ),
    Operation(
        "GET",
        "/api/v1/validation/{dataset_id}/status",
        "How the dataset's validation went",
        tag="validation",
        params=(DATASET_ID,),
        answers={
            200: Answer(
                "The job, its progress and (once completed) the verdict and findings",
                schemas.ValidationStatus,
                example=_STATUS_EXAMPLE,
            )
        },
        problems=(*AUTHENTICATED, 400, 404, 409),
        description="Findings are capped per rule; `findings_total` counts all of them. "
        f"At most {constants.FILES_IN_STATUS} files are shown; `files_total` counts all of them "
        "and `/files` pages through them.",
    ),
    Operation(
        "GET",
        "/api/v1/validation/{dataset_id}/findings",
        "Every finding, page by page",
        tag="validation",
        params=(
            DATASET_ID,
            Param("rule", "query", {"type": "string"}, "Only this rule id."),
            Param("severity", "query", {"enum": ["error", "warning"]}, "Only this severity."),
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": constants.FINDINGS_PAGE_MAX},
                f"Page size (default {constants.FINDINGS_PAGE_DEFAULT}).",
            ),
            CURSOR,
        ),
        answers={
            200: Answer(
                "One page of findings",
                schemas.FindingsPage,
                example={"items": [_FINDING_EXAMPLE], "total": 1, "next_cursor": None},
            )
        },
        problems=(*AUTHENTICATED, 400, 404),
    ),
    Operation(
        "GET",
        "/api/v1/validation/{dataset_id}/files",
        "Every stored file's facts, page by page",
        tag="validation",
        params=(
            DATASET_ID,
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": constants.FILES_PAGE_MAX},
                f"Page size (default {constants.FILES_PAGE_DEFAULT}).",
            ),
            CURSOR,
        ),
        answers={
            200: Answer(
                "One page of stored files, in the order they were declared",
                schemas.FilesPage,
                example={
                    "items": [
                        {
                            "filename": "p001_a.png",
                            "size_bytes": 183412,
                            "sha256": "9f" * 32,
                            "format": "png",
                            "width": 1024,
                            "height": 1024,
                        }
                    ],
                    "total": 1,
                    "next_cursor": None,
                },
            )
        },
        problems=(*AUTHENTICATED, 400, 404, 409),
    ),
    Operation(
        "GET",
        "/api/v1/validation/{dataset_id}/events",
        "Live progress as Server-Sent Events",
        tag="validation",
        params=(DATASET_ID,),
        answers={
            200: Answer(
                "`event: progress` with `{status, files_done, files_total}` on every change, "
                "then one `event: status` with the status body, then the stream ends",
                media_type="text/event-stream",
                # OpenAPI 3.1 has no item schema for streams: `schema` describes one event.
                schema={
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"enum": ["progress", "status"]},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "description": "progress: `{status, files_done, files_total}`; "
                            "status: the body of the status route",
                        },
                    },
                },
                example='event: progress\ndata: {"status": "processing", "files_done": 3, '
                '"files_total": 7}\n\n',
            )
        },
        problems=(*AUTHENTICATED, 400, 404, 409),
    ),
    Operation(
        "GET",
        "/api/v1/admin/overview",
        "The organisers' view: queue, live validators, each team's quota use",
        tag="organisers",
        answers={200: Answer("The service at a glance", schemas.Overview)},
        problems=(*AUTHENTICATED, 403),
        description="Organisers only. `workers` lists the processes heard from in the last "
        "few seconds and the validators each runs.",
    ),
    Operation(
        "GET",
        "/api/v1/ruleset",
        "The dataset rules as data (vocabulary, columns, rule ids)",
        tag="validation",
        answers={200: Answer("The ruleset validators apply", schemas.Ruleset)},
        problems=AUTHENTICATED,
    ),
    HEALTH,
    Operation(
        "GET",
        "/readiness",
        "Kubernetes readiness",
        tag="probes",
        public=True,
        answers={200: Answer("Ready", schemas.Probe), 503: Answer("Not ready", schemas.Probe)},
    ),
    Operation(
        "GET",
        "/liveness",
        "Kubernetes liveness",
        tag="probes",
        public=True,
        answers={200: Answer("The event loop turns", schemas.Probe)},
    ),
    METRICS,
    original_path(HEALTH, "/api/v1/health"),
    original_path(METRICS, "/api/v1/metrics"),
    Operation(
        "PUT",
        "/store/{key}",
        "Upload a file (or one part) to the embedded store",
        tag="uploads",
        public=True,
        description="Only when luna runs without S3. Use the URL and headers upload/start "
        "returned, unchanged: the signature in the query is the credential.",
        params=(
            Param("key", "path", {"type": "string"}, "The object key (may hold '/').", True),
            Param("expires", "query", {"type": "string"}, "Part of the signed URL."),
            Param("sig", "query", {"type": "string"}, "Part of the signed URL."),
            Param("upload_id", "query", {"type": "string"}, "Part URLs only."),
            Param("part", "query", {"type": "string"}, "Part URLs only."),
        ),
        extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {}}},
            }
        },
        answers={200: Answer("Stored", media_type="text/plain", schema={"type": "string"})},
        problems=(400, 403, 413, 503),
    ),
    Operation(
        "GET",
        "/api/v1/openapi.json",
        "This document",
        tag="docs",
        public=True,
        answers={200: Answer("OpenAPI 3.1", schema={"type": "object"})},
    ),
    Operation(
        "GET",
        "/",
        "The web console: submit a dataset, follow it, read its report",
        tag="docs",
        public=True,
        answers={200: Answer("An HTML page", media_type="text/html", schema={"type": "string"})},
    ),
    Operation(
        "GET",
        "/docs",
        "Interactive API docs (served offline)",
        tag="docs",
        public=True,
        answers={200: Answer("An HTML page", media_type="text/html", schema={"type": "string"})},
    ),
)


def _parameter(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.where,
        "required": param.required or param.where == "path",
        "description": param.description,
        "schema": dict(param.schema),
    }


def _media(schema: Mapping[str, Any], example: Any) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": dict(schema)}
    if example is not None:
        media["example"] = example
    return media


def _operation(op: Operation, refs: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": f"{op.method.lower()}{op.path.replace('/', '_').replace('{', '').replace('}', '')}",
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.description:
        out["description"] = op.description
    if op.public:
        out["security"] = []
    if op.params:
        out["parameters"] = [_parameter(p) for p in op.params]
    if op.body is not None:
        schema = refs[(op.body, "validation")]
        content = {"application/json": _media(schema, op.body_example)}
        if op.form_body:
            content["application/x-www-form-urlencoded"] = {"schema": schema}
        out["requestBody"] = {"required": True, "content": content}
    responses: dict[str, Any] = {}
    for status, answer in op.answers.items():
        schema = refs[(answer.model, "serialization")] if answer.model else answer.schema or {}
        responses[str(status)] = {
            "description": answer.description,
            "content": {answer.media_type: _media(schema, answer.example)},
        }
    for status in sorted(set(op.problems)):
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    out["responses"] = responses
    out.update(op.extra)
    return out


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route `app` answers, leaving out HEAD (aiohttp adds one per
    GET) and static file folders (their files are not operations)."""
    routes = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or isinstance(resource, web.StaticResource):
            continue
        if route.method in ("HEAD", "OPTIONS", "*"):
            continue
        routes.add((route.method, resource.canonical))
    return routes


def document(app: web.Application | None = None) -> dict[str, Any]:
    """The OpenAPI document of `app`'s routes (of every operation when `app` is None)."""
    served = registered_routes(app) if app is not None else None
    operations = [op for op in OPERATIONS if served is None or (op.method, op.path) in served]
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (schemas.Problem, "serialization")
    ]
    for op in operations:
        if op.body is not None:
            models.append((op.body, "validation"))
        models.extend((a.model, "serialization") for a in op.answers.values() if a.model)
    refs, definitions = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    problem_ref = refs[(schemas.Problem, "serialization")]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "luna",
            "version": __version__,
            "summary": "Dataset intake for the LUNA2025 chest X-ray competition",
            "description": "Presigned uploads, asynchronous validation, rule-by-rule reports. "
            "The public contract is docs/contract.md; errors are RFC 9457 problem+json.",
        },
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in operations)],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The `access_token` of POST /api/v1/auth/login.",
                }
            },
            "responses": {
                f"Problem{status}": {
                    "description": text,
                    "content": {
                        PROBLEM_JSON: {
                            "schema": problem_ref,
                            "example": {
                                "type": "https://luna2025.org/problems/example",
                                "title": "Example",
                                "status": status,
                                "detail": text,
                            },
                        }
                    },
                }
                for status, text in PROBLEMS.items()
            },
        },
    }

"""Every route luna serves, in one table."""

from __future__ import annotations

from aiohttp import web

from luna.http.handlers import (
    admin,
    auth,
    datasets,
    docs,
    events,
    parts,
    probes,
    ruleset,
    upload_urls,
    uploads,
    validation,
)


def add_probe_routes(app: web.Application) -> None:
    app.router.add_get("/health", probes.health)
    app.router.add_get("/readiness", probes.readiness)
    app.router.add_get("/liveness", probes.liveness)
    app.router.add_get("/metrics", probes.metrics)
    # The original LUNA2025 service's paths for the same two.
    app.router.add_get("/api/v1/health", probes.health)
    app.router.add_get("/api/v1/metrics", probes.metrics)


def add_api_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/auth/login", auth.login)
    app.router.add_post("/api/v1/upload/start", uploads.start_upload)
    app.router.add_post("/api/v1/upload/complete", uploads.complete_upload)
    app.router.add_get("/api/v1/datasets", datasets.list_datasets)
    app.router.add_get("/api/v1/datasets/{dataset_id}", datasets.dataset_detail)
    app.router.add_get("/api/v1/validation/{dataset_id}/status", validation.validation_status)
    app.router.add_get("/api/v1/validation/{dataset_id}/findings", validation.validation_findings)
    app.router.add_get("/api/v1/validation/{dataset_id}/events", events.validation_events)
    app.router.add_get("/api/v1/validation/{dataset_id}/files", validation.validation_files)
    app.router.add_post("/api/v1/upload/parts", parts.request_part_urls)
    app.router.add_get("/api/v1/upload/parts", parts.list_uploaded_parts)
    app.router.add_post("/api/v1/upload/urls", upload_urls.fresh_upload_urls)
    app.router.add_get("/api/v1/admin/overview", admin.overview)
    app.router.add_get("/api/v1/ruleset", ruleset.describe_ruleset)


def add_docs_routes(app: web.Application) -> None:
    """The web console, the OpenAPI document and the interactive docs; each new route also needs its entry in
    `luna.http.openapi.OPERATIONS` (tests/http/test_openapi.py checks)."""
    app.router.add_get("/", docs.console_page)
    app.router.add_static("/console", docs.STATIC / "console")
    app.router.add_get("/api/v1/openapi.json", docs.openapi_document())
    app.router.add_get("/docs", docs.docs_page)
    app.router.add_static("/docs/static", docs.STATIC / "docs")
    app.router.add_static("/docs/swagger-ui", docs.swagger_ui_files())

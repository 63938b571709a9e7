"""POST /api/v1/upload/start and /upload/complete: declare a dataset, then hand it over."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from luna.auth import Principal
from luna.db import queries
from luna.errors import (
    BackendUnavailable,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
)
from luna.http.handlers.parts import (
    add_multipart_plans,
    finish_multipart_uploads,
    multipart_part_sizes,
)
from luna.http.keys import DB, QUEUE, SETTINGS, STORE
from luna.http.models import FileDeclaration, UploadCompleteRequest, UploadStartRequest
from luna.http.requests import caller, parse, read_json_object
from luna.http.responses import json_response
from luna.observability import log_context
from luna.quotas import Quota, check_quota
from luna.settings import Settings
from luna.storage.base import ObjectStore

log = logging.getLogger("luna.uploads")

ABANDONED = (
    "dataset {id} was never completed and has been abandoned, its files removed; start a new upload"
)
STATUS_MESSAGES = {
    "pending": "validation is queued; follow it at /api/v1/validation/{id}/status",
    "processing": "validation is running",
    "completed": "validation has finished; see its status for the verdict",
    "failed": "validation could not run; see its status for the reason",
}


def check_declared_files(files: list[FileDeclaration], settings: Settings) -> None:
    """Refuse what can never become a valid upload, naming the field to fix."""
    if len(files) > settings.luna_max_files:
        raise PayloadTooLarge(
            f"{len(files)} files declared; a dataset holds at most {settings.luna_max_files}",
            errors=[{"field": "files", "message": f"at most {settings.luna_max_files} files"}],
        )
    too_large = [
        {
            "field": f"files[{i}].size_bytes",
            "message": f"{f.filename}: {f.size_bytes} bytes is over the "
            f"{settings.luna_max_file_bytes}-byte limit per file",
        }
        for i, f in enumerate(files)
        if f.size_bytes > settings.luna_max_file_bytes
    ]
    if too_large:
        raise PayloadTooLarge(too_large[0]["message"], errors=too_large)
    seen: dict[str, int] = {}
    duplicates = []
    for i, f in enumerate(files):
        folded = f.filename.casefold()
        if folded in seen:
            duplicates.append(
                {
                    "field": f"files[{i}].filename",
                    "message": f"{f.filename!r} repeats files[{seen[folded]}] "
                    "(names are compared ignoring case); give each file its own name",
                }
            )
        else:
            seen[folded] = i
    if duplicates:
        raise Unprocessable(duplicates[0]["message"], errors=duplicates)


async def start_upload(request: web.Request) -> web.Response:
    who = caller(request)
    body = parse(UploadStartRequest, await read_json_object(request))
    settings = request.app[SETTINGS]
    check_declared_files(body.files, settings)
    if body.team_id is not None and body.team_id != who.team_id:
        raise Forbidden(
            f"team_id {body.team_id} is not your team; leave it out or use {who.team_id}"
        )
    part_sizes = multipart_part_sizes(settings, body.files)
    declared = [
        queries.NewFile(f.filename, f.content_type, f.size_bytes, f.sha256, part_size)
        for f, part_size in zip(body.files, part_sizes, strict=True)
    ]
    db = request.app[DB]
    async with db.acquire() as conn:
        # A short transaction for the quota check and the dataset row; the file rows follow in
        # chunks of their own, so no transaction grows with the declaration (no store call).
        async with conn.transaction():
            usage = await queries.team_usage(
                conn, who.team_id, upload_urls_live_s=settings.luna_upload_url_expires_s
            )
            if usage is None:
                raise Forbidden("your team no longer exists; ask the organisers")
            check_quota(
                Quota.for_team(usage, settings),
                datasets_today=usage["datasets_today"],
                bytes_stored=usage["bytes_stored"],
                file_sizes=[f.size_bytes for f in body.files],
            )
            dataset_id = await queries.insert_dataset(
                conn,
                team_id=who.team_id,
                user_id=who.user_id,
                name=body.dataset_name,
                description=body.description,
                files=declared,
            )
        try:
            stored = await queries.copy_declared_files(conn, dataset_id, declared)
        except BaseException:
            await _forget_dataset(db, dataset_id)
            raise
    store = request.app[STORE]
    expires_in_s = settings.luna_upload_url_expires_s
    signed = store.presign_puts(
        [
            (row.s3_key, f.content_type, f.size_bytes)
            for f, row in zip(body.files, stored, strict=True)
        ],
        expires_in_s=expires_in_s,
    )
    urls: list[dict[str, Any]] = [
        {
            "file_id": row.file_id,
            "filename": f.filename,
            "upload_url": url,
            "s3_key": row.s3_key,
            "method": "PUT",
            "headers": {"Content-Type": f.content_type, "Content-Length": str(f.size_bytes)},
        }
        for f, row, url in zip(body.files, stored, signed, strict=True)
    ]
    add_multipart_plans(
        urls, part_sizes, sizes=[f.size_bytes for f in body.files], store_kind=store.kind
    )
    with log_context(dataset_id=dataset_id):
        log.info("upload started: %d files", len(urls))
    return json_response(
        {"dataset_id": dataset_id, "upload_urls": urls, "expires_in": expires_in_s}
    )


async def _forget_dataset(db: Any, dataset_id: int) -> None:
    """Remove a dataset whose files could not all be written; the client never learned its
    id. Shielded so a cancelled request still cleans up; if the database is gone too, the
    abandoned-upload sweep removes it later."""
    try:
        await asyncio.shield(queries.delete_dataset(db, dataset_id))
    except Exception as exc:
        log.warning("could not remove half-declared dataset %d: %s", dataset_id, exc)


async def visible_dataset(request: web.Request, dataset_id: int, who: Principal) -> Any:
    """The dataset's owner row, or 404 when it is absent or another team's."""
    owner = await queries.fetch_dataset_owner(request.app[DB], dataset_id)
    if owner is None or (owner["team_id"] != who.team_id and not who.is_admin):
        raise NotFound(f"dataset {dataset_id} does not exist or is not your team's")
    return owner


async def record_stored_versions(conn: Any, store: ObjectStore, dataset_id: int) -> None:
    """Record the ETag of every declared file as the store holds it now (None: absent), so
    validation reads exactly these versions and a later change is seen. A dataset no longer
    uploading was recorded by the call that queued it; a store without ETags needs none."""
    if await queries.fetch_dataset_status(conn, dataset_id) != "uploading":
        return
    etags = await store.etags(f"datasets/{dataset_id}/")
    if etags is None:
        return
    keys = await queries.fetch_keys(conn, dataset_id)
    # Only stored objects are written: an absent one keeps its NULL (rewriting 100,000 rows
    # to NULL made `complete` of an empty large dataset take seconds).
    await queries.record_etags(
        conn, dataset_id, [(keys[key], etag) for key, etag in etags.items() if key in keys]
    )


async def complete_upload(request: web.Request) -> web.Response:
    who = caller(request)
    body = parse(UploadCompleteRequest, await read_json_object(request))
    dataset_id = body.dataset_id
    owner = await visible_dataset(request, dataset_id, who)
    if owner["status"] == "abandoned":
        raise Conflict(ABANDONED.format(id=dataset_id))
    # The completion lock (not a transaction) spans the store's work and the queueing: a
    # second `complete` waits, and no multipart upload opens unseen in between.
    async with request.app[DB].acquire() as conn, queries.completion_lock(conn, dataset_id):
        await finish_multipart_uploads(conn, request.app[STORE], dataset_id)
        await record_stored_versions(conn, request.app[STORE], dataset_id)
        job = await queries.queue_dataset(conn, dataset_id)
    if job is None:
        raise NotFound(f"dataset {dataset_id} does not exist or is not your team's")
    with log_context(dataset_id=dataset_id, job_id=job["id"]):
        if job["status"] == "pending" and job["published_at"] is None:
            try:
                await request.app[QUEUE].publish(job["id"])
                await queries.mark_published(request.app[DB], job["id"])
                log.info("validation job published")
            except BackendUnavailable as exc:
                # The job row is committed: the reconciler publishes it once the broker is back.
                log.warning("publish failed, the reconciler will retry: %s", exc)
    status = job["status"]
    return json_response(
        {
            "dataset_id": dataset_id,
            "validation_job_id": job["id"],
            "status": status,
            "message": STATUS_MESSAGES[status].format(id=dataset_id),
        }
    )

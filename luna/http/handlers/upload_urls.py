"""Fresh upload URLs for a dataset that is still uploading: what lets an interrupted client
resume the same dataset after the URLs `upload/start` gave it have expired.

    POST /api/v1/upload/urls {dataset_id, file_ids?}
    -> {dataset_id, upload_urls: [{file_id, filename, upload_url, s3_key, method, headers,
                                   multipart?}], expires_in}

Each entry has `upload/start`'s shape: a single-PUT URL (null only where one PUT cannot carry
the file) and, for a file whose multipart upload is still open, its part plan, so the client
asks `GET /upload/parts` which parts arrived and sends only the rest. `stored` says whether the
store already holds the file whole with its declared size (an earlier PUT got through) and, where
the store knows the stored bytes' SHA-256 (the embedded store), the declared one, so the client
skips it, whatever its size; validation still checks every declared SHA-256. Without `file_ids`,
every file of the dataset. 404 for an absent dataset or another team's, 409 once it was
completed, 422 for ids that are not files of the dataset.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import Field, StrictInt

from luna import constants
from luna.db import queries
from luna.errors import Conflict, Unprocessable
from luna.http.handlers.uploads import visible_dataset
from luna.http.keys import DB, SETTINGS, STORE
from luna.http.models import MAX_ID, Strict
from luna.http.requests import caller, parse, read_json_object
from luna.http.responses import json_response
from luna.storage.base import ObjectStore
from luna.storage.multipart import PartPlan


class UploadUrlsRequest(Strict):
    dataset_id: StrictInt = Field(ge=1, le=MAX_ID)
    file_ids: list[StrictInt] | None = Field(default=None, min_length=1)


# The part size of each file whose multipart upload is still open (served by the partial
# index `dataset_files_open_multipart`). To move into luna/db/queries.py.
def _chosen_files(
    files: list[asyncpg.Record], file_ids: list[int] | None, *, dataset_id: int
) -> list[asyncpg.Record]:
    """The requested files in the dataset's order; every id must be one of its files."""
    if file_ids is None:
        return files
    known = {int(f["file_id"]) for f in files}
    unknown = [
        {
            "field": f"file_ids[{i}]",
            "message": f"file {file_id} is not a file of dataset {dataset_id}",
        }
        for i, file_id in enumerate(file_ids)
        if not 1 <= file_id <= MAX_ID or file_id not in known
    ]
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise Unprocessable(f"{unknown[0]['field']}: {unknown[0]['message']}{more}", errors=unknown)
    wanted = set(file_ids)
    return [f for f in files if int(f["file_id"]) in wanted]


async def _stored_whole(store: ObjectStore, files: list[asyncpg.Record]) -> set[int]:
    """The ids of `files` the store holds with exactly their declared size and, where both the
    declaration and the store know it, their declared SHA-256 (the embedded store records it;
    S3 does not tell, so there the size decides and validation checks the checksum)."""
    lookups = asyncio.Semaphore(constants.STORED_LOOKUPS_IN_FLIGHT)

    async def holds(f: asyncpg.Record) -> bool:
        async with lookups:
            info = await store.head(f["s3_key"])
        if info is None or info.size_bytes != f["size_bytes"]:
            return False
        declared, found = f["sha256"], info.sha256
        return declared is None or found is None or found.lower() == declared.lower()

    try:
        async with asyncio.TaskGroup() as group:
            checks = [(int(f["file_id"]), group.create_task(holds(f))) for f in files]
    except ExceptionGroup as failures:  # the store failed: its BackendUnavailable is the 503
        raise failures.exceptions[0] from None
    return {file_id for file_id, check in checks if check.result()}


async def fresh_upload_urls(request: web.Request) -> web.Response:
    """POST /api/v1/upload/urls {dataset_id, file_ids?}: new single-PUT URLs."""
    who = caller(request)
    body = parse(UploadUrlsRequest, await read_json_object(request))
    dataset_id = body.dataset_id
    owner = await visible_dataset(request, dataset_id, who)
    if owner["status"] != "uploading":
        raise Conflict(
            f"dataset {dataset_id} was already completed (its status is {owner['status']}); "
            "it takes no more uploads: start a new dataset"
        )
    async with request.app[DB].acquire() as conn:
        files = await queries.fetch_declared_files(conn, dataset_id)
        part_sizes = await queries.fetch_open_part_sizes(conn, dataset_id)
    chosen = _chosen_files(files, body.file_ids, dataset_id=dataset_id)
    store = request.app[STORE]
    stored = await _stored_whole(store, [f for f in chosen if int(f["file_id"]) not in part_sizes])
    expires_in_s = request.app[SETTINGS].luna_upload_url_expires_s
    entries: list[dict[str, Any]] = []
    for f in chosen:
        upload = await store.presign_put(
            f["s3_key"],
            content_type=f["content_type"],
            size_bytes=f["size_bytes"],
            expires_in_s=expires_in_s,
        )
        entry: dict[str, Any] = {
            "file_id": f["file_id"],
            "filename": f["filename"],
            "upload_url": upload.url,
            "s3_key": f["s3_key"],
            "method": upload.method,
            "headers": upload.headers,
            "stored": int(f["file_id"]) in stored,
        }
        part_size_bytes = part_sizes.get(int(f["file_id"]))
        if part_size_bytes is not None:
            plan = PartPlan(size_bytes=f["size_bytes"], part_size_bytes=part_size_bytes)
            entry["multipart"] = {
                "part_size_bytes": plan.part_size_bytes,
                "parts": plan.parts_total,
            }
            # As upload/start: one PUT cannot carry a file over S3's single-upload limit.
            if store.kind == "s3" and plan.size_bytes > constants.S3_MAX_PUT_BYTES:
                entry["upload_url"] = None
        entries.append(entry)
    return json_response(
        {"dataset_id": dataset_id, "upload_urls": entries, "expires_in": expires_in_s}
    )

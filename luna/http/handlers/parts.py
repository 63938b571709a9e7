"""Large files in parts: `upload/start` plans parts for every file above the threshold,
`POST /api/v1/upload/parts` opens the file's multipart upload in the store the first time it
is asked and hands out part URLs in batches, `GET` says which parts have arrived (so an
interrupted client resends only the rest), and `upload/complete` joins the parts of every
whole file and drops those of the others.

Opening uploads on demand keeps `upload/start` free of store calls: 100,000 large files
declared cost no more than 100,000 small ones, and a file uploaded whole never opens one.

    part_sizes = multipart_part_sizes(settings, files)                # start, before the rows
    add_multipart_plans(urls, part_sizes, sizes=sizes, store_kind=store.kind)  # the answer
    await finish_multipart_uploads(conn, store, dataset_id)            # complete, under its lock
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from pydantic import Field, StrictInt

from luna import constants
from luna.auth import Principal
from luna.db import queries
from luna.errors import BadRequest, Conflict, NotFound, Unprocessable
from luna.http.keys import DB, SETTINGS, STORE
from luna.http.models import MAX_ID, FileDeclaration, Strict
from luna.http.requests import caller, is_decimal, parse, read_json_object
from luna.http.responses import json_response
from luna.observability import log_context
from luna.settings import Settings
from luna.storage.base import ObjectStore, StoredPart
from luna.storage.multipart import MultipartPolicy, PartPlan

log = logging.getLogger("luna.uploads")

_Item = TypeVar("_Item")
# A multipart file takes parts while it is planned (no upload opened yet) or uploading.
OPEN_STATES = frozenset({"planned", "uploading"})
ALREADY_COMPLETED = "dataset {id} was already completed; its files take no more parts"


class PartsRequest(Strict):
    dataset_id: StrictInt = Field(ge=1, le=MAX_ID)
    file_id: StrictInt = Field(ge=1, le=MAX_ID)
    part_numbers: list[StrictInt] = Field(
        min_length=1, max_length=constants.MAX_PART_URLS_PER_REQUEST
    )


def usable_parts(stored: Sequence[StoredPart], plan: PartPlan) -> list[StoredPart]:
    """The stored parts the plan can use: numbered 1..parts_total, each of its planned size."""
    return [
        part
        for part in stored
        if 1 <= part.part_number <= plan.parts_total
        and part.size_bytes == plan.size_of(part.part_number)
    ]


async def _for_each(
    items: Sequence[_Item], work: Callable[[_Item], Awaitable[Any]], *, limit: int
) -> list[Any]:
    """`work(item)` for every item, at most `limit` at once; results in the items' order. The
    first failure cancels the rest and is raised as itself."""
    results: list[Any] = [None] * len(items)
    pending = iter(enumerate(items))

    async def worker() -> None:
        for index, item in pending:
            results[index] = await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(limit, len(items))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return results


# ---------------------------------------------------------------- upload/start


def multipart_part_sizes(settings: Settings, files: Sequence[FileDeclaration]) -> list[int | None]:
    """Each file's part size when it uploads in parts, else None (in the order of `files`)."""
    policy = MultipartPolicy.from_settings(settings)
    return [
        policy.plan(f.size_bytes).part_size_bytes if policy.applies_to(f.size_bytes) else None
        for f in files
    ]


def add_multipart_plans(
    entries: list[dict[str, Any]],
    part_sizes: Sequence[int | None],
    *,
    sizes: Sequence[int],
    store_kind: str,
) -> None:
    """Add `"multipart": {"part_size_bytes", "parts"}` to the `upload/start` entry (in place)
    of every file that uploads in parts; `entries` and `part_sizes` are in the same order.

    The entry keeps its single-PUT `upload_url`, so a client that knows nothing of parts still
    uploads the file whole; only where one PUT cannot carry the file (over S3's 5 GiB) is
    `upload_url` null. `sizes` are the files' declared sizes, in the same order.
    """
    for entry, size_bytes, part_size_bytes in zip(entries, sizes, part_sizes, strict=True):
        if part_size_bytes is None:
            continue
        plan = PartPlan(size_bytes=size_bytes, part_size_bytes=part_size_bytes)
        entry["multipart"] = {"part_size_bytes": plan.part_size_bytes, "parts": plan.parts_total}
        if store_kind == "s3" and plan.size_bytes > constants.S3_MAX_PUT_BYTES:
            entry["upload_url"] = None


# ---------------------------------------------------------------- upload/complete


@dataclass(frozen=True)
class FinishedUploads:
    """What `finish_multipart_uploads` did: files joined, and files whose parts were dropped
    because some were missing (validation reports those `upload.missing`)."""

    joined: tuple[str, ...] = ()
    incomplete: tuple[str, ...] = ()


async def finish_multipart_uploads(
    conn: queries.Conn, store: ObjectStore, dataset_id: int
) -> FinishedUploads:
    """Join the parts of every multipart file of an `uploading` dataset that has them all; drop
    the parts of the others. Call under the dataset's `completion_lock`, before it is queued;
    no transaction is open while the store works. A repeat (or a dataset already queued)
    finds nothing left to do. Raises `BackendUnavailable` when the store fails, leaving what
    is not done for the next call."""
    status, files = await queries.open_multipart_files(conn, dataset_id)
    if status != "uploading" or not files:
        return FinishedUploads()
    states = await _for_each(
        files, partial(_finish_one, store), limit=constants.MULTIPART_STORE_CONCURRENCY
    )
    await queries.set_multipart_states(
        conn, [(row["file_id"], state) for row, state in zip(files, states, strict=True)]
    )
    finished = FinishedUploads(
        joined=tuple(r["filename"] for r, s in zip(files, states, strict=True) if s == "completed"),
        incomplete=tuple(
            r["filename"] for r, s in zip(files, states, strict=True) if s == "aborted"
        ),
    )
    with log_context(dataset_id=dataset_id):
        log.info(
            "multipart uploads finished: %d joined, %d incomplete",
            len(finished.joined),
            len(finished.incomplete),
        )
    return finished


async def _finish_one(store: ObjectStore, row: asyncpg.Record) -> str:
    """Join or drop one file's parts; returns its new `multipart_state`."""
    key, upload_id = row["s3_key"], row["multipart_upload_id"]
    plan = PartPlan(size_bytes=row["size_bytes"], part_size_bytes=row["part_size_bytes"])
    try:
        parts = usable_parts(await store.list_parts(key, upload_id=upload_id), plan)
        if [p.part_number for p in parts] == list(range(1, plan.parts_total + 1)):
            try:
                await store.complete_multipart(key, upload_id=upload_id, parts=parts)
                return "completed"
            except Conflict as exc:
                log.warning("the store refused to join the parts of %s: %s", key, exc.detail)
    except NotFound:
        # An earlier call joined or dropped it but could not record that: the object says which.
        info = await store.head(key)
        return "completed" if info is not None and info.size_bytes == plan.size_bytes else "aborted"
    await store.abort_multipart(key, upload_id=upload_id)
    return "aborted"


# ---------------------------------------------------------------- the part routes


async def _open_multipart_file(
    request: web.Request, dataset_id: int, file_id: int, who: Principal
) -> tuple[asyncpg.Record, PartPlan]:
    """The caller's multipart file that still takes parts, and its plan."""
    row = await queries.fetch_upload_file(request.app[DB], dataset_id, file_id)
    if row is None or (row["team_id"] != who.team_id and not who.is_admin):
        raise NotFound(
            f"dataset {dataset_id} has no file {file_id}, or the dataset is not your team's"
        )
    if row["part_size_bytes"] is None:
        raise Conflict(
            f"{row['filename']} ({row['size_bytes']} bytes) is not uploaded in parts: PUT it "
            "whole to the upload_url that upload/start returned"
        )
    if row["dataset_status"] != "uploading" or row["multipart_state"] not in OPEN_STATES:
        raise Conflict(ALREADY_COMPLETED.format(id=dataset_id))
    plan = PartPlan(size_bytes=row["size_bytes"], part_size_bytes=row["part_size_bytes"])
    return row, plan


async def _abort_quietly(store: ObjectStore, key: str, upload_id: str) -> None:
    try:
        await store.abort_multipart(key, upload_id=upload_id)
    except Exception as exc:  # a cleanup must not hide why it was needed
        log.warning("could not abort the multipart upload of %s: %s", key, exc)


async def _opened_upload_id(request: web.Request, row: asyncpg.Record) -> str:
    """The file's multipart upload id, opening the upload in the store on the first call."""
    if row["multipart_upload_id"] is not None:
        return str(row["multipart_upload_id"])
    store, db = request.app[STORE], request.app[DB]
    dataset_id, file_id = row["dataset_id"], row["file_id"]
    upload_id = await store.create_multipart(row["s3_key"], content_type=row["content_type"])
    async with db.acquire() as conn:
        recorded = await queries.record_opened_multipart(
            conn, dataset_id, file_id, upload_id=upload_id
        )
    if recorded:
        return upload_id
    # Another request opened one first, or the dataset was completed meanwhile: use theirs.
    await _abort_quietly(store, row["s3_key"], upload_id)
    again = await queries.fetch_upload_file(db, dataset_id, file_id)
    if (
        again is None
        or again["dataset_status"] != "uploading"
        or again["multipart_upload_id"] is None
    ):
        raise Conflict(ALREADY_COMPLETED.format(id=dataset_id))
    return str(again["multipart_upload_id"])


async def request_part_urls(request: web.Request) -> web.Response:
    """POST /api/v1/upload/parts {dataset_id, file_id, part_numbers}: one URL per part."""
    who = caller(request)
    body = parse(PartsRequest, await read_json_object(request))
    row, plan = await _open_multipart_file(request, body.dataset_id, body.file_id, who)
    outside = [
        {
            "field": f"part_numbers[{i}]",
            "message": f"part {number} is outside 1..{plan.parts_total} "
            f"({row['filename']} has {plan.parts_total} parts)",
        }
        for i, number in enumerate(body.part_numbers)
        if not 1 <= number <= plan.parts_total
    ]
    if outside:
        more = f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""
        raise Unprocessable(f"{outside[0]['field']}: {outside[0]['message']}{more}", errors=outside)
    store = request.app[STORE]
    upload_id = await _opened_upload_id(request, row)
    expires_in_s = request.app[SETTINGS].luna_upload_url_expires_s
    parts = []
    for number in dict.fromkeys(body.part_numbers):
        size_bytes = plan.size_of(number)
        presigned = await store.presign_part(
            row["s3_key"],
            upload_id=upload_id,
            part_number=number,
            size_bytes=size_bytes,
            expires_in_s=expires_in_s,
        )
        parts.append(
            {
                "part_number": number,
                "size_bytes": size_bytes,
                "upload_url": presigned.url,
                "method": presigned.method,
                "headers": presigned.headers,
            }
        )
    return json_response(
        {
            "dataset_id": body.dataset_id,
            "file_id": body.file_id,
            "parts": parts,
            "expires_in": expires_in_s,
        }
    )


def _query_id(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "")
    if not is_decimal(raw) or len(raw) > 18 or int(raw) < 1:
        raise BadRequest(f"query parameter {name} must be a positive integer")
    return int(raw)


async def list_uploaded_parts(request: web.Request) -> web.Response:
    """GET /api/v1/upload/parts?dataset_id=&file_id=: the parts that have arrived."""
    who = caller(request)
    dataset_id, file_id = _query_id(request, "dataset_id"), _query_id(request, "file_id")
    row, plan = await _open_multipart_file(request, dataset_id, file_id, who)
    stored = []
    if row["multipart_upload_id"] is not None:  # else no part URL was ever handed out
        stored = await request.app[STORE].list_parts(
            row["s3_key"], upload_id=row["multipart_upload_id"]
        )
    return json_response(
        {
            "dataset_id": dataset_id,
            "file_id": file_id,
            "parts": [
                {"part_number": p.part_number, "size_bytes": p.size_bytes, "etag": p.etag}
                for p in usable_parts(stored, plan)
            ],
            "parts_total": plan.parts_total,
            "part_size_bytes": plan.part_size_bytes,
            "size_bytes": plan.size_bytes,
        }
    )

"""`PUT /store/{key}`: where clients upload when luna runs its embedded object store.

The URL's signature (see `luna.storage.local`) is the only credential: these routes take no
bearer token. The body streams to disk; it is never held in memory whole. A URL carrying
`upload_id` and `part` stores one part of a multipart upload and answers its `ETag`, as S3 does.

What was validated is what is kept: a dataset's objects (whole or in parts) take PUTs only
while the dataset is uploading. `gate` checks that before the body is read and again just
before the new bytes replace the old, so a PUT racing `upload/complete` cannot land after it.

    add_local_store_routes(app, store, gate=uploading_datasets_only(app))
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import ClientPayloadError, hdrs, web
from aiohttp.http import HttpVersion11

from luna.db import queries
from luna.errors import BadRequest, Conflict, ProblemError
from luna.http.keys import DB
from luna.storage.local import LocalObjectStore

# Raises a ProblemError when the object `key` may not change any more.
Gate = Callable[[str], Awaitable[None]]
_DATASET_KEY = re.compile(r"^datasets/([0-9]{1,18})/")

# Bytes handed from the socket to the store per step; the store gathers them for its writes.
READ_CHUNK_BYTES = 256 * 1024


def _problem(exc: ProblemError) -> web.Response:
    return web.Response(
        body=orjson.dumps(exc.as_problem()),
        status=exc.status,
        content_type="application/problem+json",
    )


def _check(store: LocalObjectStore, request: web.Request) -> None:
    upload_id = request.query.get("upload_id")
    if upload_id is not None:
        store.check_part_upload(
            request.match_info["key"],
            upload_id=upload_id,
            part=request.query.get("part"),
            content_length=request.content_length,
            expires=request.query.get("expires"),
            signature=request.query.get("sig"),
        )
        return
    store.check_upload(
        request.match_info["key"],
        # The raw header, not `request.content_type`, which invents a default when absent.
        content_type=request.headers.get(hdrs.CONTENT_TYPE),
        content_length=request.content_length,
        expires=request.query.get("expires"),
        signature=request.query.get("sig"),
    )


def uploading_datasets_only(app: web.Application) -> Gate:
    """A gate refusing a PUT to a dataset's object once the dataset is no longer uploading."""

    async def gate(key: str) -> None:
        match = _DATASET_KEY.match(key)
        if match is None:
            return  # not a dataset's object
        dataset_id = int(match[1])
        status = await queries.fetch_dataset_status(app[DB], dataset_id)
        if status != "uploading":
            raise Conflict(
                f"dataset {dataset_id} is no longer uploading ({status or 'gone'}): its files "
                "were handed over with upload/complete and cannot change; start a new upload "
                "to send other files"
            )

    return gate


async def _gated(chunks: AsyncIterable[bytes], gate: Gate, key: str) -> AsyncIterator[bytes]:
    """`chunks`, then the gate once more after the last one: the store commits the object
    only after reading to the end, so a refusal here leaves the stored bytes as they were."""
    async for chunk in chunks:
        yield chunk
    await gate(key)


async def _open(_: str) -> None:
    return None


def add_local_store_routes(
    app: web.Application, store: LocalObjectStore, *, gate: Gate = _open
) -> None:
    """Register `PUT /store/{key}` on `app`, writing into `store` what `gate` lets through."""

    async def expect_continue(request: web.Request) -> web.StreamResponse | None:
        # A client asking "100-continue" learns of a bad URL before it sends gigabytes.
        expect = request.headers.get(hdrs.EXPECT, "")
        if request.version != HttpVersion11:
            return None
        if expect.lower() != "100-continue":
            raise web.HTTPExpectationFailed(text=f"unknown Expect: {expect}")
        try:
            _check(store, request)
            await gate(request.match_info["key"])
        except ProblemError as exc:
            return _problem(exc)
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        # What was just written is not part of the response proper.
        request.writer.output_size = 0
        return None

    async def put_object(request: web.Request) -> web.StreamResponse:
        headers: dict[str, str] = {}
        try:
            _check(store, request)
            key = request.match_info["key"]
            await gate(key)
            size_bytes = request.content_length or 0
            chunks = _gated(request.content.iter_chunked(READ_CHUNK_BYTES), gate, key)
            try:
                upload_id = request.query.get("upload_id")
                if upload_id is None:
                    await store.write(key, chunks, size_bytes=size_bytes)
                else:
                    part = await store.write_part(
                        key,
                        upload_id=upload_id,
                        part_number=int(request.query["part"]),
                        chunks=chunks,
                        size_bytes=size_bytes,
                    )
                    headers[hdrs.ETAG] = f'"{part.etag}"'
            except (ClientPayloadError, ConnectionResetError) as exc:
                # The client went away mid-body; nobody reads this answer, the log might.
                raise BadRequest(f"the upload of {key} was cut off") from exc
        except ProblemError as exc:
            return _problem(exc)
        return web.Response(status=200, headers=headers)

    app.router.add_put("/store/{key:.+}", put_object, expect_handler=expect_continue)

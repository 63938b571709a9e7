"""`PUT /store/{key}`: where clients upload when luna runs its embedded object store.

The URL's signature (see `luna.storage.local`) is the only credential: these routes take no
bearer token. The body streams to disk; it is never held in memory whole. A URL carrying
`upload_id` and `part` stores one part of a multipart upload and answers its `ETag`, as S3 does.

    add_local_store_routes(app, store)
"""

from __future__ import annotations

import orjson
from aiohttp import ClientPayloadError, hdrs, web
from aiohttp.http import HttpVersion11

from luna.errors import BadRequest, ProblemError
from luna.storage.local import LocalObjectStore

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


def add_local_store_routes(app: web.Application, store: LocalObjectStore) -> None:
    """Register `PUT /store/{key}` on `app`, writing into `store`."""

    async def expect_continue(request: web.Request) -> web.StreamResponse | None:
        # A client asking "100-continue" learns of a bad URL before it sends gigabytes.
        expect = request.headers.get(hdrs.EXPECT, "")
        if request.version != HttpVersion11:
            return None
        if expect.lower() != "100-continue":
            raise web.HTTPExpectationFailed(text=f"unknown Expect: {expect}")
        try:
            _check(store, request)
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
            size_bytes = request.content_length or 0
            chunks = request.content.iter_chunked(READ_CHUNK_BYTES)
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

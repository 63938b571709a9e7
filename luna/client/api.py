"""The luna HTTP API as a team client uses it: one aiohttp session, one bearer token.

    async with open_api("http://127.0.0.1:8000") as api:
        await api.login("alice", "secret")
        plan = await api.start_upload(dataset_name="chest-2025", files=files)
        await api.complete_upload(plan.dataset_id)
        status = await api.validation_status(plan.dataset_id)

Resuming a dataset whose upload was interrupted (`upload/urls`, `upload/parts`):

        plan = await api.fresh_upload_urls(dataset_id)      # new single-PUT URLs, part plans
        stored = await api.stored_parts(dataset_id, file_id)
        parts = await api.part_urls(dataset_id, file_id, [3, 4])

Problems come back as `ApiError` (the server's `detail` and field errors), an unreachable
server as `ServerUnreachable`. The token is sent to luna only, never to the object store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from luna.client.constants import API_READ_TIMEOUT_S, CONNECT_TIMEOUT_S, EVENTS_READ_TIMEOUT_S
from luna.client.errors import ApiError, LoginRefused, ServerUnreachable
from luna.client.local_files import LocalFile
from luna.client.retry import TransientHttpError, is_transient_status, retrying

API_TIMEOUT = aiohttp.ClientTimeout(
    total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=API_READ_TIMEOUT_S
)
EVENTS_TIMEOUT = aiohttp.ClientTimeout(
    total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=EVENTS_READ_TIMEOUT_S
)
# Idempotent calls (reads, `complete`) are retried this often on a blip.
IDEMPOTENT_ATTEMPTS = 4


@dataclass(frozen=True)
class MultipartPlan:
    """How the server splits a large file: parts of `part_size_bytes`, `parts` of them."""

    part_size_bytes: int
    parts: int


@dataclass(frozen=True)
class UploadTarget:
    """Where and how one file goes: the presigned request, exactly as the server gave it.
    `url` is None when the file can only go in parts (over the store's single-PUT limit)."""

    file_id: int
    filename: str
    url: str | None
    method: str
    headers: dict[str, str]
    s3_key: str
    multipart: MultipartPlan | None = None
    # `upload/urls` only: the store already holds the whole file with its declared size.
    stored: bool = False


@dataclass(frozen=True)
class UploadPlan:
    dataset_id: int
    targets: tuple[UploadTarget, ...]
    expires_in_s: int


@dataclass(frozen=True)
class PartTarget:
    """Where one part of a multipart file goes: a presigned PUT of exactly `size_bytes`."""

    part_number: int
    size_bytes: int
    url: str
    method: str
    headers: dict[str, str]


@dataclass(frozen=True)
class StoredParts:
    """The parts of a multipart file that the store already holds (number -> size)."""

    sizes: dict[int, int]
    parts_total: int
    part_size_bytes: int

    @property
    def numbers(self) -> frozenset[int]:
        return frozenset(self.sizes)

    @property
    def size_bytes(self) -> int:
        return sum(self.sizes.values())


class LunaApi:
    def __init__(self, session: aiohttp.ClientSession, *, server_url: str) -> None:
        self.session = session
        self.server_url = server_url.rstrip("/")
        self._token: str | None = None
        self._credentials: tuple[str, str] | None = None

    def url(self, path: str) -> str:
        return f"{self.server_url}{path}"

    async def login(self, username: str, password: str) -> None:
        try:
            body = await self._call(
                "POST", "/api/v1/auth/login", json={"username": username, "password": password}
            )
        except ApiError as exc:
            if exc.status == 401:
                raise LoginRefused(
                    401, f"login as {username!r} refused: {exc.detail}", title=exc.title
                ) from None
            raise
        self._token = str(body["access_token"])
        self._credentials = (username, password)

    async def start_upload(
        self, *, dataset_name: str, files: Sequence[LocalFile], description: str | None = None
    ) -> UploadPlan:
        request: dict[str, Any] = {
            "dataset_name": dataset_name,
            "files": [f.declaration() for f in files],
        }
        if description:
            request["description"] = description
        body = await self._call("POST", "/api/v1/upload/start", json=request)
        return _plan(body)

    async def fresh_upload_urls(
        self, dataset_id: int, *, file_ids: Sequence[int] | None = None
    ) -> UploadPlan:
        """New upload URLs (all files, or `file_ids`) for a dataset still uploading; 404 when
        it is gone, 409 once completed (both as `ApiError`)."""
        request: dict[str, Any] = {"dataset_id": dataset_id}
        if file_ids is not None:
            request["file_ids"] = list(file_ids)
        body = await self._idempotent("POST", "/api/v1/upload/urls", json=request)
        return _plan(body)

    async def stored_parts(self, dataset_id: int, file_id: int) -> StoredParts:
        body = await self._idempotent(
            "GET",
            "/api/v1/upload/parts",
            params={"dataset_id": str(dataset_id), "file_id": str(file_id)},
        )
        return StoredParts(
            sizes={int(p["part_number"]): int(p["size_bytes"]) for p in body["parts"]},
            parts_total=int(body["parts_total"]),
            part_size_bytes=int(body["part_size_bytes"]),
        )

    async def part_urls(
        self, dataset_id: int, file_id: int, part_numbers: Sequence[int]
    ) -> list[PartTarget]:
        """Presigned URLs for these parts (at most the server's batch limit, 1000)."""
        body = await self._idempotent(
            "POST",
            "/api/v1/upload/parts",
            json={"dataset_id": dataset_id, "file_id": file_id, "part_numbers": list(part_numbers)},
        )
        return [
            PartTarget(
                part_number=int(p["part_number"]),
                size_bytes=int(p["size_bytes"]),
                url=str(p["upload_url"]),
                method=p.get("method") or "PUT",
                headers=dict(p.get("headers") or {}),
            )
            for p in body["parts"]
        ]

    async def complete_upload(self, dataset_id: int) -> dict[str, Any]:
        return await self._idempotent(
            "POST", "/api/v1/upload/complete", json={"dataset_id": dataset_id}
        )

    async def validation_status(self, dataset_id: int) -> dict[str, Any]:
        return await self._call("GET", f"/api/v1/validation/{dataset_id}/status")

    async def findings_page(
        self, dataset_id: int, *, limit: int = 100, cursor: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, str] = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        return await self._idempotent(
            "GET", f"/api/v1/validation/{dataset_id}/findings", params=params
        )

    async def list_datasets(self) -> dict[str, Any]:
        return await self._idempotent("GET", "/api/v1/datasets")

    @asynccontextmanager
    async def open_events(self, dataset_id: int) -> AsyncIterator[aiohttp.ClientResponse]:
        """The events stream's response, whatever its status: the caller decides."""
        try:
            async with self.session.get(
                self.url(f"/api/v1/validation/{dataset_id}/events"),
                headers={**self._auth(), "Accept": "text/event-stream"},
                timeout=EVENTS_TIMEOUT,
            ) as response:
                yield response
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServerUnreachable(
                f"the events stream broke: {describe_connection_error(exc)}"
            ) from exc

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def _idempotent(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call that is safe to repeat, retried on a blip (unreachable, 5xx)."""

        def transient(exc: BaseException) -> bool:
            return isinstance(exc, ServerUnreachable | TransientHttpError)

        async def once() -> dict[str, Any]:
            try:
                return await self._call(method, path, **kwargs)
            except ApiError as exc:
                if is_transient_status(exc.status):
                    raise TransientHttpError(exc.status, exc.detail) from exc
                raise

        try:
            return await retrying(once, is_transient=transient, attempts=IDEMPOTENT_ATTEMPTS)
        except TransientHttpError as exc:
            assert isinstance(exc.__cause__, ApiError)
            raise exc.__cause__ from None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            return await self._call_once(method, path, json=json, params=params)
        except ApiError as exc:
            # A token can expire during a long upload: log in again, once, and carry on.
            if exc.status != 401 or self._credentials is None or path.endswith("/auth/login"):
                raise
        await self.login(*self._credentials)
        return await self._call_once(method, path, json=json, params=params)

    async def _call_once(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = self._auth()
        data = None
        if json is not None:
            data = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        try:
            async with self.session.request(
                method,
                URL(self.url(path)),
                data=data,
                params=params,
                headers=headers,
                timeout=API_TIMEOUT,
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise problem_from(
                        response.status,
                        response.reason or "",
                        raw,
                        content_type=response.content_type,
                        server_url=self.server_url,
                    )
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            raise ServerUnreachable(
                f"{self.server_url!r} is not a URL luna can be reached at: "
                f"{server_url_problem(self.server_url) or exc}"
            ) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
            raise ServerUnreachable(
                f"cannot reach luna at {self.server_url}: {describe_connection_error(exc)}"
            ) from exc
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ApiError(
                response.status,
                f"{self.server_url} answered {method} {path} with "
                f"{_what(response.content_type)}, not luna's JSON: is it luna's address "
                "(--server or LUNA_SERVER)?",
            ) from exc
        if not isinstance(body, dict):
            raise ApiError(response.status, f"{method} {path} answered an unexpected body")
        return body


def _plan(body: dict[str, Any]) -> UploadPlan:
    """upload/start's (or upload/urls') answer."""
    return UploadPlan(
        dataset_id=int(body["dataset_id"]),
        targets=tuple(_target(u) for u in body["upload_urls"]),
        expires_in_s=int(body.get("expires_in", 0)),
    )


def _target(entry: dict[str, Any]) -> UploadTarget:
    multipart = entry.get("multipart")
    return UploadTarget(
        file_id=int(entry["file_id"]),
        filename=entry["filename"],
        url=entry.get("upload_url"),
        method=entry.get("method") or "PUT",
        headers=dict(entry.get("headers") or {}),
        s3_key=entry.get("s3_key", ""),
        multipart=(
            MultipartPlan(int(multipart["part_size_bytes"]), int(multipart["parts"]))
            if isinstance(multipart, dict)
            else None
        ),
        stored=entry.get("stored") is True,
    )


def problem_from(
    status: int,
    reason: str,
    raw: bytes,
    *,
    content_type: str = "",
    server_url: str = "",
) -> ApiError:
    """An `ApiError` from a problem+json body; from anything else (a proxy's or another
    server's error page), one line saying what came back instead of the page itself."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        errors = body.get("errors")
        return ApiError(
            status,
            str(body["detail"]),
            title=str(body.get("title", "")),
            errors=errors if isinstance(errors, list) else None,
        )
    text = raw.decode(errors="replace").strip()
    if not text or (content_type == "text/plain" and "\n" not in text and len(text) <= 200):
        return ApiError(status, text or reason or "no detail given", title=reason)
    where = server_url or "the server"
    because = f" ({reason})" if reason else ""
    return ApiError(
        status,
        f"{where} answered with {_what(content_type)}{because}, not luna's problem+json: "
        "is it luna's address (--server or LUNA_SERVER)?",
    )


def _what(content_type: str) -> str:
    kinds = {"text/html": "an HTML page", "application/json": "JSON", "text/plain": "text"}
    return kinds.get(content_type, f"a {content_type} body" if content_type else "a body")


def server_url_problem(url: str) -> str | None:
    """What is wrong with a server URL a person typed, in words that say how to fix it."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return "it is not a URL; write it as http://HOST:PORT"
    if parsed.scheme not in ("http", "https"):
        if not parsed.scheme or parsed.host is None:
            return f"add http:// (or https://) in front of it: http://{url}"
        return f"luna speaks http:// or https://, not {parsed.scheme}://"
    if not parsed.host:
        return "it names no host; write it as http://HOST:PORT"
    return None


def describe_connection_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientConnectorError):
        refused = isinstance(exc.os_error, ConnectionRefusedError)
        reason = "connection refused" if refused else str(exc.os_error)
        return f"{reason} (is the address right, and is luna running?)"
    return str(exc) or type(exc).__name__


@asynccontextmanager
async def open_api(server_url: str) -> AsyncIterator[LunaApi]:
    """One session for the whole submission: API calls and uploads share its connections."""
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(
        connector=connector, timeout=API_TIMEOUT, raise_for_status=False
    ) as session:
        yield LunaApi(session, server_url=server_url)

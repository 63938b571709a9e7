"""luna's HTTP server: aiohttp's, with deadlines on reading requests and clear parser errors.

luna is reached directly (`make run`, the embedded store's uploads), not only behind a proxy,
so it bounds what a slow client can hold:
- the request line and headers must arrive within `header_timeout_s` of the connection
  opening (or of the previous request's end), else 408 and the connection is closed;
- a body must be complete within `body_timeout_s`, or arrive at `body_min_bytes_per_s` or
  faster on average after that, else the handler's read fails with 408 (`body_deadline`).

Requests aiohttp cannot parse (a line over 8,190 bytes, Content-Length beside
Transfer-Encoding, ...) answer 400 problem+json, and are logged at WARNING by kind only: the
bytes of the request line (which may hold a token or a signature) never reach the log.

    runner = GuardedAppRunner(app, limits=RequestLimits.from_settings(settings))
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import http_exceptions, web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_protocol import RequestHandler

from luna.errors import ProblemError
from luna.http.responses import problem_response
from luna.settings import Settings

log = logging.getLogger("luna.http.server")


# How long a connection cut off for slow headers may linger, half-closed, before it is dropped.
_LINGER_S = 2.0


class RequestTimeout(ProblemError):
    status, title = 408, "Request Timeout"


class _SlowBody(TimeoutError):
    """Set on a request's body stream when it arrives too slowly. A TimeoutError, so aiohttp,
    draining what is left of the body after the answer, gives up quietly and closes."""


@dataclass(frozen=True)
class RequestLimits:
    header_timeout_s: float
    body_timeout_s: float
    body_min_bytes_per_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(
            header_timeout_s=settings.luna_header_timeout_s,
            body_timeout_s=settings.luna_body_timeout_s,
            body_min_bytes_per_s=settings.luna_body_min_bytes_per_s,
        )


def _parser_error_detail(exc: BaseException | None) -> str:
    if isinstance(exc, http_exceptions.LineTooLong):
        return "a request line or header is longer than luna reads (8,190 bytes); shorten it"
    if isinstance(exc, http_exceptions.BadHttpMethod):
        return "this is not an HTTP request luna understands"
    kind = type(exc).__name__ if exc is not None else "malformed request"
    return f"the request is not valid HTTP/1.1 ({kind}); check the client's headers and framing"


def _raw_problem(status: int, detail: str) -> bytes:
    """A whole HTTP response, for when no request object exists yet."""
    phrase = HTTPStatus(status).phrase
    body = orjson.dumps(
        {
            "type": f"https://luna2025.org/problems/{phrase.lower().replace(' ', '-')}",
            "title": phrase,
            "status": status,
            "detail": detail,
        }
    )
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler with a deadline on each request's headers and
    problem+json answers to what its parser refuses."""

    def __init__(self, manager: Any, *, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._header_deadline: asyncio.TimerHandle | None = None
        self._timed_out = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._timed_out:
            return
        requests_before = self._request_count
        super().data_received(data)
        if self._request_count != requests_before:
            self._disarm_header_deadline()  # a whole request head arrived
        elif not self._request_in_progress and not self._messages:
            self._arm_header_deadline()  # the start of the next request on a kept-alive one

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None and self._header_timeout_s > 0:
            self._header_deadline = self._loop.call_later(
                self._header_timeout_s, self._headers_too_slow
            )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        transport = self.transport
        if transport is None or self._request_in_progress or self._messages:
            return
        log.warning(
            "closed a connection whose request headers took over %gs", self._header_timeout_s
        )
        self._timed_out = True
        detail = f"the request headers did not arrive within {self._header_timeout_s:g} s"
        transport.write(_raw_problem(408, detail))
        # Half-close, so the answer is read before the connection goes (closing at once with
        # unread bytes pending would reset it); whatever still arrives is dropped, and a
        # client that does not close its side is cut off shortly after.
        if transport.can_write_eof():
            transport.write_eof()
        self._loop.call_later(_LINGER_S, transport.abort)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started; it cannot become an error")
        if status == 500:
            log.error("unhandled error from %s: %s", request.remote, type(exc).__name__)
            detail = "luna failed unexpectedly; the organisers have the log"
        else:
            # The exception's text may quote the request line: its kind is enough.
            log.warning(
                "refused an unreadable request from %s: %s %s",
                request.remote,
                status,
                type(exc).__name__ if exc is not None else "",
            )
            detail = _parser_error_detail(exc)
        response = problem_response(status, HTTPStatus(status).phrase, detail)
        response.force_close()
        return response


class GuardedServer(web.Server):
    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout_s = header_timeout_s

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(
            self, loop=self._loop, header_timeout_s=self._header_timeout_s, **self._kwargs
        )


class GuardedAppRunner(web.AppRunner):
    """`web.AppRunner` serving through `GuardedServer`."""

    def __init__(self, app: web.Application, *, limits: RequestLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            header_timeout_s=self._limits.header_timeout_s,
            **plain._kwargs,
        )


def body_deadline(limits: RequestLimits) -> Middleware:
    """Fail the body's read with 408 when it arrives too slowly (see the module docstring)."""
    check_every_s = min(1.0, limits.body_timeout_s / 2)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        content = request.content
        if content.is_eof():
            return await handler(request)
        loop = asyncio.get_running_loop()
        started = loop.time()
        watch: asyncio.TimerHandle | None = None

        def check() -> None:
            nonlocal watch
            if content.is_eof():
                return
            elapsed_s = loop.time() - started
            if elapsed_s >= limits.body_timeout_s and (
                content.total_bytes < limits.body_min_bytes_per_s * elapsed_s
            ):
                content.set_exception(
                    _SlowBody(f"{content.total_bytes} bytes in {elapsed_s:.0f} s")
                )
                return
            watch = loop.call_later(check_every_s, check)

        watch = loop.call_later(check_every_s, check)
        try:
            return await handler(request)
        except _SlowBody as exc:
            log.warning("gave up on a request body that arrived too slowly: %s", exc)
            raise RequestTimeout(
                f"the request body arrived too slowly ({exc}); send it at "
                f"{limits.body_min_bytes_per_s} bytes/s or faster"
            ) from None
        finally:
            watch.cancel()

    return middleware

"""A TCP fault proxy: sits between luna and one backing service and breaks the link on command.

    async with FaultProxy("127.0.0.1", 5432) as proxy:   # luna connects to proxy.port
        proxy.slow(delay_ms=20)          # every chunk waits 20 ms each way
        proxy.sever()                    # every open connection is cut (queries in flight fail)
        proxy.pause(); proxy.resume()    # bytes stop flowing, then flow again
        proxy.answer_http_500()          # every request is answered 500 (an S3 outage)
        proxy.cut_next_response(after_bytes=4096)   # one download dies mid-object
        await proxy.refuse(); await proxy.accept()  # connections refused, then accepted again
        proxy.heal()                     # back to a clean link (refusal aside)

Faults act on the bytes only, so the same proxy breaks PostgreSQL, RabbitMQ or S3 alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from types import TracebackType

# Bytes moved per read: large enough for an S3 object chunk, small enough to cut mid-object.
_CHUNK_BYTES = 64 * 1024
_HTTP_500 = (
    b"HTTP/1.1 500 Internal Server Error\r\n"
    b"Content-Type: application/xml\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)
_S3_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b"<Error><Code>InternalError</Code><Message>injected by the fault proxy</Message></Error>"
)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a reset, as a crashed peer or a dropped route would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.downstream_bytes = 0  # sent to the client since the cut was armed

    def sever(self) -> None:
        _abort(self.client)
        if self.upstream is not None:
            _abort(self.upstream)


class FaultProxy:
    """See the module docstring. Counters say what the faults did (`severed`, `answered_500`)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0
        self.severed = 0
        self.answered_500 = 0
        self.cut = 0
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._delay_s = 0.0
        self._http_500 = False
        self._cut_after: int | None = None

    async def __aenter__(self) -> FaultProxy:
        await self.accept()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.heal()
        self._close_listener()
        self.sever()

    def url_for(self, url: str) -> str:
        """`url` with its host:port replaced by the proxy's."""
        scheme, _, rest = url.partition("://")
        userinfo, at, hostpart = (
            rest.rpartition("@") if "@" in rest.split("/", 1)[0] else ("", "", rest)
        )
        _, slash, path = hostpart.partition("/")
        return f"{scheme}://{userinfo}{at}127.0.0.1:{self.port}{slash}{path}"

    # ---------------------------------------------------------------- faults

    def sever(self) -> int:
        """Cut every open connection at once; returns how many were cut."""
        links = list(self._links)
        for link in links:
            link.sever()
        self._links.clear()
        self.severed += len(links)
        return len(links)

    def pause(self) -> None:
        """Stop moving bytes either way; connections stay open (and new ones wait)."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def slow(self, *, delay_ms: float) -> None:
        """Delay every chunk by `delay_ms` in each direction."""
        self._delay_s = delay_ms / 1000

    def answer_http_500(self) -> None:
        """Answer every request with 500 (open connections are cut so none slips through)."""
        self._http_500 = True
        self.sever()

    def cut_next_response(self, *, after_bytes: int) -> None:
        """The first connection to send the client more than `after_bytes` from now is cut
        right there, once."""
        for link in self._links:
            link.downstream_bytes = 0
        self._cut_after = after_bytes

    async def refuse(self) -> None:
        """Close the listening socket (connects are refused) and cut every open connection."""
        self._close_listener()
        self.sever()

    async def accept(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def heal(self) -> None:
        """Undo every fault but a refusal: bytes flow at full speed, no 500, no cut."""
        self._http_500 = False
        self._cut_after = None
        self._delay_s = 0.0
        self._flowing.set()

    # ---------------------------------------------------------------- the plumbing

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.add(link)
        try:
            if self._http_500:
                await self._answer_500(reader, writer)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            except OSError:
                _abort(writer)
                return
            link.upstream = up_writer
            if link not in self._links:  # severed while connecting
                link.sever()
                return
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pump(reader, up_writer, link, downstream=False))
                group.create_task(self._pump(up_reader, writer, link, downstream=True))
        except* (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            if link in self._links:  # ended on its own: close gently, so nothing sent is lost
                self._links.discard(link)
                for end in (link.client, link.upstream):
                    if end is not None:
                        end.close()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
        *,
        downstream: bool,
    ) -> None:
        while data := await reader.read(_CHUNK_BYTES):
            await self._flowing.wait()
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
            if link not in self._links:
                return  # severed meanwhile
            if downstream and self._cut_after is not None:
                allowed = self._cut_after - link.downstream_bytes
                link.downstream_bytes += len(data)
                if len(data) > allowed:
                    self._cut_after = None
                    self.cut += 1
                    writer.write(data[: max(0, allowed)])
                    with contextlib.suppress(OSError):
                        await writer.drain()
                    self._links.discard(link)
                    link.sever()
                    return
            writer.write(data)
            await writer.drain()
        # One side finished sending: pass the end on; the other direction carries on.
        if writer.can_write_eof() and not writer.is_closing():
            with contextlib.suppress(OSError):
                writer.write_eof()

    async def _answer_500(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read one HTTP request (head and body) and answer it 500, closing the connection."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        if length:
            await reader.readexactly(length)
        self.answered_500 += 1
        writer.write(_HTTP_500 % (len(_S3_ERROR), _S3_ERROR))
        await writer.drain()
        writer.close()

"""Every event-stream write has a deadline: a client that stops reading is dropped."""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from luna.http.handlers.events import ClientGone, write_within


async def test_a_client_that_stops_reading_is_dropped_within_the_deadline(aiohttp_server):
    outcome: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        sent = 0
        try:
            for _ in range(10_000):  # far more than any socket buffers: 640 MiB
                await write_within(request, response, b"x" * 65536, timeout_s=0.5)
                sent += 65536
            outcome.set_result(("finished", sent))
        except ClientGone:
            outcome.set_result(("dropped", sent))
        return response

    app = web.Application()
    app.router.add_get("/stream", stream)
    server = await aiohttp_server(app)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((str(server.host), int(server.port or 0)))
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        how, sent = await asyncio.wait_for(outcome, timeout=30)
        assert how == "dropped"
        assert sent < 64 * 1024 * 1024  # it stopped at the buffers, not after everything
        # The connection is gone: reading drains what was buffered, then hits its end.
        sock.settimeout(5)
        received = 0
        try:
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert received <= sent + 4096
    finally:
        sock.close()

"""Reading Server-Sent Events however the bytes are split on the way."""

from __future__ import annotations

from collections.abc import AsyncIterator

from luna.client.sse import ServerEvent, read_events

STREAM = (
    b": keep-alive\r\n\r\n"
    b'event: progress\r\ndata: {"files_done": 1}\r\n\r\n'
    b"event: status\ndata: line one\ndata:line two\nid: 7\n\n"
    b"data: no name\r\r"
)
EXPECTED = [
    ServerEvent("progress", '{"files_done": 1}'),
    ServerEvent("status", "line one\nline two", id="7"),
    ServerEvent("message", "no name", id="7"),
]


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def collect(chunks: AsyncIterator[bytes]) -> list[ServerEvent]:
    return [event async for event in read_events(chunks)]


async def test_events_are_the_same_whatever_the_chunk_boundaries():
    for size in (1, 2, 3, 7, 16, len(STREAM)):
        assert await collect(chunked(STREAM, size)) == EXPECTED, size


async def test_an_event_without_its_blank_line_is_not_delivered():
    assert await collect(chunked(b"event: status\ndata: {}\n", 4)) == []


async def test_a_very_long_data_line_is_read_whole():
    payload = b"x" * 3_000_000
    events = await collect(chunked(b"event: status\ndata: " + payload + b"\n\n", 65536))
    assert [len(e.data) for e in events] == [len(payload)]

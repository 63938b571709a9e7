"""Reading Server-Sent Events (the WHATWG `text/event-stream` format) from a byte stream.

    async for event in read_events(response.content.iter_any()):
        event.name, event.data            # "progress", '{"files_done": 3, ...}'

Lines may end in CRLF, LF or CR; `data:` lines of one event are joined with LF; comment
lines (':' first, the server's keep-alives) are skipped. Lines of any length are read,
since the final status of a 100,000-file dataset is one long `data:` line.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerEvent:
    name: str
    data: str
    id: str | None = None


async def read_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    buffer = bytearray()
    scanned = 0  # how much of `buffer` is known to hold no line break
    async for chunk in chunks:
        buffer += chunk
        start = 0
        while (found := _LINE_BREAK.search(buffer, max(start, scanned))) is not None:
            if found.group() == b"\r" and found.end() == len(buffer):
                break  # maybe the first half of a CRLF split across chunks
            yield buffer[start : found.start()].decode("utf-8", errors="replace")
            start = found.end()
        del buffer[:start]
        scanned = len(buffer) - (1 if buffer.endswith(b"\r") else 0)
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")


async def read_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerEvent]:
    name, last_id = "", None
    data: list[str] = []
    async for line in read_lines(chunks):
        if not line:
            if data:
                yield ServerEvent(name=name or "message", data="\n".join(data), id=last_id)
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            last_id = value

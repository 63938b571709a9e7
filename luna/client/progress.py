"""One progress line for one long task (hashing, uploading, validating), on stderr.

On a terminal the line redraws in place; in a log (CI, a pipe) a plain line is written now
and then, so the log stays readable.

    bar = Progress(total_bytes, label="uploading", unit="bytes", stream=sys.stderr)
    bar = Progress(total_bytes, done=bytes_already_stored, ...)    # a resumed upload
    bar.advance(65536)        # negative amounts take back a failed attempt's bytes
    bar.note("retrying a.png in 1.2 s")
    bar.finish()
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Callable
from typing import Literal, TextIO

from luna.client.constants import PLAIN_PROGRESS_INTERVAL_S, RATE_WINDOW_S, TTY_REDRAW_INTERVAL_S

Unit = Literal["bytes", "files"]
BAR_WIDTH = 24


def format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    def __init__(
        self,
        total: int,
        *,
        done: int = 0,
        label: str,
        unit: Unit,
        stream: TextIO,
        interactive: bool | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        # A resumed upload starts part-way; the rate counts only what moves from now on.
        self.done = done
        self.label = label
        self.unit = unit
        self.detail = ""
        self._stream = stream
        self._interactive = stream.isatty() if interactive is None else interactive
        self._enabled = enabled
        self._clock = clock
        self._started = clock()
        self._samples: deque[tuple[float, int]] = deque([(self._started, done)])
        self._last_draw = float("-inf")
        self._drawn = False
        self._bar_full, self._bar_empty = self._bar_glyphs(stream)

    @staticmethod
    def _bar_glyphs(stream: TextIO) -> tuple[str, str]:
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        return ("█", "░") if encoding == "utf8" else ("#", ".")

    def advance(self, amount: int) -> None:
        self.done += amount
        self._sample()
        self._maybe_draw()

    def update(self, done: int, *, total: int | None = None, detail: str | None = None) -> None:
        if total is not None:
            self.total = total
        if detail is not None:
            self.detail = detail
        self.done = done
        self._sample()
        self._maybe_draw()

    def note(self, message: str) -> None:
        """A line of its own (a retry, a warning) without breaking the progress line."""
        if not self._enabled:
            self._stream.write(message + "\n")
            return
        if self._interactive and self._drawn:
            self._stream.write("\r\x1b[K")
        self._stream.write(message + "\n")
        if self._interactive and self._drawn:
            self._draw()
        self._stream.flush()

    def finish(self) -> None:
        """The final line, kept on screen."""
        if not self._enabled:
            return
        self._draw()
        if self._interactive:
            self._stream.write("\n")
        self._stream.flush()

    # ------------------------------------------------------------------ the line

    def rate_per_s(self) -> float | None:
        """Recent rate over the sampling window; None until there is something to measure."""
        (then, done_then), (now, done_now) = self._samples[0], self._samples[-1]
        if now - then < 0.2:
            return None
        return max(0.0, (done_now - done_then) / (now - then))

    def line(self) -> str:
        fraction = min(1.0, self.done / self.total) if self.total > 0 else 1.0
        filled = int(fraction * BAR_WIDTH)
        bar = self._bar_full * filled + self._bar_empty * (BAR_WIDTH - filled)
        parts = [f"{self.label} {fraction * 100:3.0f}% {bar} {self._amount()}"]
        rate = self.rate_per_s()
        if rate is not None:
            if self.unit == "bytes":
                parts.append(f"{format_bytes(rate)}/s")
            if 0 < fraction < 1 and rate > 0:
                parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        if fraction >= 1:
            parts.append(f"in {format_duration(self._clock() - self._started)}")
        if self.detail:
            parts.append(self.detail)
        return "  ".join(parts)

    def _amount(self) -> str:
        if self.unit == "bytes":
            return f"{format_bytes(self.done)} / {format_bytes(self.total)}"
        return f"{self.done}/{self.total} files"

    def _sample(self) -> None:
        now = self._clock()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()

    def _maybe_draw(self) -> None:
        if not self._enabled:
            return
        interval_s = TTY_REDRAW_INTERVAL_S if self._interactive else PLAIN_PROGRESS_INTERVAL_S
        if self._clock() - self._last_draw >= interval_s:
            self._draw()

    def _draw(self) -> None:
        self._last_draw = self._clock()
        self._drawn = True
        text = self.line()
        if self._interactive:
            columns = shutil.get_terminal_size((100, 20)).columns
            self._stream.write("\r" + text[: max(20, columns - 1)] + "\x1b[K")
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

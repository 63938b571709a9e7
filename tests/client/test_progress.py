"""The progress line: amounts, rate over the recent window, ETA, redraws."""

from __future__ import annotations

import io

from luna.client.progress import Progress, format_bytes, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sizes_and_durations_read_like_a_human_wrote_them():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"
    assert format_duration(75) == "1:15"
    assert format_duration(3725) == "1:02:05"


def test_rate_and_eta_follow_the_bytes_sent():
    clock = Clock()
    stream = io.StringIO()
    bar = Progress(
        100 * 1024**2,
        label="uploading",
        unit="bytes",
        stream=stream,
        interactive=False,
        clock=clock,
    )
    for _ in range(10):
        clock.now += 1
        bar.advance(2 * 1024**2)
    line = bar.line()
    assert "20%" in line
    assert "20.0 MiB / 100.0 MiB" in line
    assert "2.0 MiB/s" in line
    assert "ETA 0:40" in line


def test_a_failed_attempt_s_bytes_are_taken_back():
    bar = Progress(1000, label="uploading", unit="bytes", stream=io.StringIO(), interactive=False)
    bar.advance(600)
    bar.advance(-600)
    bar.advance(1000)
    assert bar.done == 1000
    assert "1000 B / 1000 B" in bar.line()


def test_a_terminal_gets_one_line_redrawn_in_place():
    clock = Clock()
    stream = io.StringIO()
    bar = Progress(
        10, label="validating", unit="files", stream=stream, interactive=True, clock=clock
    )
    for done in range(1, 11):
        clock.now += 1
        bar.update(done)
    bar.note("a retry")
    bar.finish()
    text = stream.getvalue()
    assert text.count("\n") == 2  # the note and the final line
    assert text.count("\r") >= 10
    assert text.endswith("10/10 files  in 0:10\x1b[K\n")


def test_a_log_gets_a_plain_line_now_and_then():
    clock = Clock()
    stream = io.StringIO()
    bar = Progress(
        100, label="uploading", unit="bytes", stream=stream, interactive=False, clock=clock
    )
    for _ in range(100):
        clock.now += 0.5
        bar.advance(1)
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 5 <= len(lines) <= 15  # every 5 s over 50 s, plus the last
    assert lines[-1].startswith("uploading 100%")


def test_a_resumed_upload_starts_part_way_and_its_rate_counts_only_new_bytes():
    clock = Clock()
    bar = Progress(
        100 * 1024**2,
        done=60 * 1024**2,
        label="uploading",
        unit="bytes",
        stream=io.StringIO(),
        interactive=False,
        clock=clock,
    )
    assert " 60% " in bar.line()
    clock.now += 2
    bar.advance(4 * 1024**2)
    assert bar.rate_per_s() == 2 * 1024**2
    assert "64.0 MiB / 100.0 MiB" in bar.line()
    assert "ETA 0:18" in bar.line()

"""What once amplified a validator's memory now costs it little: each input streamed through
FileInspector and the dataset pass in a fresh process, whose peak RSS growth is measured
(Pillow's and zlib's own allocations included, which tracemalloc would not see).

The inputs of the hardening issue (item 8): a 1,000,000-row manifest, a 30 MB single-line
manifest, an 8192 x 8192 RGBA 16-bit PNG. `python bench/memory.py` measures the same in
`luna serve` and `luna worker`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GOAL_MIB = 64
TESTS = Path(__file__).resolve().parents[1]

# Runs in a child process: builds the input as pieces, resets the peak, streams, judges.
CHILD = r"""
import struct, sys, zlib
from luna.validation import DeclaredFile, FileInspector, judge_dataset

MiB = 1024 * 1024
kind = sys.argv[1]

def chunk(k, d):
    return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))

def pieces():
    if kind == "rows":
        yield b"filename,patient_id,label\n"
        block = b"".join(b"%d.png,P%d,Mass\n" % (n, n % 5000) for n in range(50_000))
        for _ in range(20):
            yield block
    elif kind == "line":
        yield b"filename,patient_id,label"
        piece = b",a.png" * (MiB // 6)
        for _ in range(30):
            yield piece
    else:
        side = 8192
        yield b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0))
        deflate = zlib.compressobj(1)
        row = bytes(1 + side * 8)
        data = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
        for start in range(0, len(data), MiB):
            yield chunk(b"IDAT", data[start : start + MiB])
        yield chunk(b"IEND", b"")

def rss(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

name = "big.png" if kind == "png" else "manifest.csv"
stream = list(pieces())
size = sum(map(len, stream))
declared = DeclaredFile(file_id=1, filename=name, content_type="", size_bytes=size)
before = rss("VmRSS")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
inspector = FileInspector(declared)
while stream:
    inspector.feed(stream.pop(0))
report = inspector.finish()
results = judge_dataset([declared], [report])
print(rss("VmHWM") - before, sorted(results.rules))
"""


@pytest.mark.parametrize("kind", ["rows", "line", "png"])
def test_an_amplifying_input_costs_under_the_goal(kind: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=TESTS.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    growth, rules = done.stdout.split(" ", 1)
    assert float(growth) < GOAL_MIB, f"{kind}: RSS grew {float(growth):.0f} MiB ({rules.strip()})"
    expected = "image.not_grayscale" if kind == "png" else "manifest.unreadable"
    assert expected in rules

"""The manifest is parsed as it streams, within limits: each breach is a finding, never a crash
and never a manifest held whole."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator

import pytest
from factories import manifest

from luna.validation import DeclaredFile, FileInspector
from luna.validation.manifest_csv import ManifestReader, ManifestUnreadable, parse_manifest
from luna.validation.report import FileReport
from luna.validation.ruleset import MANIFEST_MAX_FIELD_CHARS, MANIFEST_MAX_RECORD_CHARS

MiB = 1024 * 1024
HEADER = b"filename,patient_id,label,split,view\n"


def million_rows() -> Iterator[bytes]:
    """A 1,000,000-row manifest (~48 MB) in blocks of 25,000 rows; the rows repeat from the
    second block on (the limit is met long before)."""
    yield HEADER
    block = "".join(
        f"images/p{n:07d}.png,P{n % 5000:05d},No Finding,train,PA\n" for n in range(25_000)
    ).encode()
    for _ in range(40):
        yield block


def single_line(total_bytes: int = 30 * MiB) -> Iterator[bytes]:
    """A 30 MB manifest on one line: a header without a line break, then cells forever."""
    yield b"filename,patient_id,label"
    piece = b",a.png" * (MiB // 6)
    for _ in range(total_bytes // len(piece)):
        yield piece


def inspect_stream(chunks: Iterator[bytes], *, max_rows: int) -> tuple[FileReport, float]:
    """The manifest's report and the peak memory (MiB) traced while streaming it."""
    declared = DeclaredFile(
        file_id=1, filename="manifest.csv", content_type="text/csv", size_bytes=0
    )
    pieces = list(chunks)  # made before measuring: they stand for the network's buffers
    tracemalloc.start()
    try:
        inspector = FileInspector(declared, manifest_max_rows=max_rows, manifest_max_bytes=64 * MiB)
        while pieces:
            inspector.feed(pieces.pop(0))
        report = inspector.finish()
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report, peak / MiB


def unreadable(report: FileReport) -> str:
    (finding,) = [f for f in report.findings if f.rule == "manifest.unreadable"]
    return finding.message


def test_a_million_row_manifest_stops_at_the_row_limit_in_bounded_memory() -> None:
    report, peak_mib = inspect_stream(million_rows(), max_rows=1_000)
    assert report.manifest is None
    assert "more than 1000 rows" in unreadable(report)
    assert "row 1002" in unreadable(report)
    assert peak_mib < 8, f"{peak_mib:.1f} MiB"


def test_a_single_line_manifest_stops_at_the_record_limit_in_bounded_memory() -> None:
    report, peak_mib = inspect_stream(single_line(), max_rows=1_000)
    assert f"row 1 (from line 1) is longer than {MANIFEST_MAX_RECORD_CHARS} characters" in (
        unreadable(report)
    )
    assert "one row per line" in unreadable(report)
    assert peak_mib < 8, f"{peak_mib:.1f} MiB"


def test_an_unclosed_quote_is_named() -> None:
    content = HEADER + b'a.png,"P1,Mass,,\n' + b"b.png,P2,Mass,,\n" * 10_000
    with pytest.raises(ManifestUnreadable) as caught:
        parse_manifest(content)
    assert "a quoted field is never closed" in caught.value.reason
    assert caught.value.row == 2


def test_a_value_over_the_field_limit_is_a_finding_with_its_row() -> None:
    long_name = "a/" * MANIFEST_MAX_FIELD_CHARS + "x.png"
    content = HEADER + b"ok.png,P1,Mass,,\n" + f"{long_name},P2,Mass,,\n".encode()
    with pytest.raises(ManifestUnreadable) as caught:
        parse_manifest(content)
    assert caught.value.row == 3
    assert f"'filename' value is {len(long_name)} characters long" in caught.value.reason


def test_an_unknown_column_may_hold_long_notes() -> None:
    content = b"filename,patient_id,label,notes\n" + f"a.png,P1,Mass,{'n' * 5000}\n".encode()
    assert parse_manifest(content).rows[0].filename == "a.png"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64])
def test_any_chunking_gives_the_same_manifest(size: int) -> None:
    rows = [
        {"filename": f"ä/{n}.png", "patient_id": f"P{n}", "label": "Mass|Nodule", "view": "PA"}
        for n in range(40)
    ]
    rows[7]["label"] = "Mass"
    content = manifest(rows, bom=True, crlf=True, quote_all=True)
    content = content.replace(b'"Mass"', b'"Ma\r\nss"', 1)  # a line break inside a quoted field
    whole = parse_manifest(content)
    reader = ManifestReader()
    for start in range(0, len(content), size):
        reader.feed(content[start : start + size])
    assert reader.finish() == whole
    assert whole.rows[0].label == "Ma\r\nss|Nodule" or whole.rows[7].label == "Ma\r\nss"
    assert whole.rows[1].filename == "ä/1.png"


def test_a_non_utf8_byte_is_located_across_chunks() -> None:
    content = HEADER + b"a.png,P1,Mass,,\n" + "b.png,P\xe9,Mass,,\n".encode("latin-1")
    reader = ManifestReader()
    for start in range(0, len(content), 4):
        reader.feed(content[start : start + 4])
    with pytest.raises(ManifestUnreadable) as caught:
        reader.finish()
    assert caught.value.row == 3
    at = content.index(b"\xe9")
    assert f"byte {at} on line 3 (0xe9)" in caught.value.reason


def test_the_validator_allows_a_few_more_rows_than_files() -> None:
    content = HEADER + b"".join(f"{n}.png,P{n},Mass,,\n".encode() for n in range(12))
    declared = DeclaredFile(
        file_id=1,
        filename="manifest.csv",
        content_type="text/csv",
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    inspector = FileInspector(declared, manifest_max_rows=10)
    inspector.feed(content)
    assert "more than 10 rows" in unreadable(inspector.finish())

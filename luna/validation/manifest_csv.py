"""Parsing `manifest.csv`: UTF-8 (BOM allowed), RFC 4180 quoting, `\\n` or `\\r\\n`, a header.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is
row 2 (each CSV record is one row, blank ones included). Column names are matched ignoring
case and surrounding spaces; unknown columns are ignored; every value is stripped of
surrounding spaces.

    manifest = parse_manifest(content)   # Manifest, or raises ManifestUnreadable
    manifest.rows[0].row == 2
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from luna.validation.ruleset import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


class ManifestUnreadable(ValueError):
    """The bytes are not a CSV with a header; `reason` says why and how to fix it."""

    def __init__(self, reason: str, *, row: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row


@dataclass(frozen=True)
class ManifestRow:
    row: int
    filename: str
    patient_id: str
    label: str
    split: str
    view: str


@dataclass(frozen=True)
class Manifest:
    header: tuple[str, ...]  # as written (stripped)
    header_row: int
    columns: frozenset[str]  # the known columns present
    rows: tuple[ManifestRow, ...]

    @property
    def missing_columns(self) -> tuple[str, ...]:
        return tuple(c for c in REQUIRED_COLUMNS if c not in self.columns)


def parse_manifest(content: bytes) -> Manifest:
    text = _decode(content)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_row = 0
    positions: dict[str, int] = {}
    rows: list[ManifestRow] = []
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            if not any(field.strip() for field in record):
                continue  # blank lines and rows of empty cells, as spreadsheets export them
            if header is None:
                header, header_row = [f.strip() for f in record], number
                positions = _column_positions(header, row=number)
                continue
            rows.append(_row(record, number, positions))
    except csv.Error as exc:
        raise ManifestUnreadable(
            f"row {number + 1} (line {reader.line_num}) is not valid CSV ({exc}); check its "
            'quotes: a field with a comma, quote or line break is wrapped in "...", and a quote '
            'inside it is doubled ("")',
            row=number + 1,
        ) from exc
    if header is None:
        raise ManifestUnreadable(
            "the manifest is empty; write a header row 'filename,patient_id,label' "
            "(optionally ',split,view') and one row per image"
        )
    return Manifest(
        header=tuple(header), header_row=header_row, columns=frozenset(positions), rows=tuple(rows)
    )


def _decode(content: bytes) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ManifestUnreadable(
            "the manifest is UTF-16 (a spreadsheet's 'Unicode text'); save it as 'CSV UTF-8'"
        )
    if content.startswith(b"PK\x03\x04"):
        raise ManifestUnreadable(
            "the manifest is a spreadsheet workbook (.xlsx), not CSV; export it as 'CSV UTF-8'"
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ManifestUnreadable(
            f"the manifest is not UTF-8: byte {exc.start} on line {line} "
            f"(0x{content[exc.start]:02x}) cannot be decoded; save it as 'CSV UTF-8' "
            "(not Latin-1 or Windows-1252)",
            row=line,
        ) from exc


def _column_positions(header: list[str], *, row: int) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.lower()
        if key not in KNOWN_COLUMNS:
            continue
        if key in positions:
            raise ManifestUnreadable(
                f"column '{key}' appears twice in the header (columns {positions[key] + 1} and "
                f"{index + 1}); keep one",
                row=row,
            )
        positions[key] = index
    return positions


def _row(record: list[str], number: int, positions: dict[str, int]) -> ManifestRow:
    def value(column: str) -> str:
        index = positions.get(column)
        return record[index].strip() if index is not None and index < len(record) else ""

    return ManifestRow(
        row=number,
        filename=value("filename"),
        patient_id=value("patient_id"),
        label=value("label"),
        split=value("split"),
        view=value("view"),
    )

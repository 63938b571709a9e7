"""Parsing `manifest.csv`: UTF-8 (BOM allowed), RFC 4180 quoting, `\\n` or `\\r\\n`, a header.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is
row 2 (each CSV record is one row, blank ones included). Column names are matched ignoring
case and surrounding spaces; unknown columns are ignored; every value is stripped of
surrounding spaces.

The bytes are parsed as they stream, a record at a time, within limits: a record's length
(a single-line file or an unclosed quote stops there), a known column's value, and the
number of rows. Past a limit the reader stops with the reason; it never holds more than one
record of text and the rows it kept.

    reader = ManifestReader(max_rows=1000)
    for chunk in chunks: reader.feed(chunk)
    manifest = reader.finish()          # Manifest, or raises ManifestUnreadable
    manifest = parse_manifest(content)  # the same for bytes held whole
    manifest.rows[0].row == 2
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from typing import Final

from luna.validation.ruleset import (
    MANIFEST_MAX_FIELD_CHARS,
    MANIFEST_MAX_RECORD_CHARS,
    MANIFEST_MAX_ROWS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
)

KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
_UTF8_BOM: Final = b"\xef\xbb\xbf"
# A line ends at \n, \r\n or a lone \r, as csv's own reading of a newline="" stream.
_LINE_END: Final = re.compile(r"\r\n|\n|\r(?!$)")
_QUOTE: Final = '"'


class ManifestUnreadable(ValueError):
    """The bytes are not a CSV with a header; `reason` says why and how to fix it."""

    def __init__(self, reason: str, *, row: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row


@dataclass(frozen=True, slots=True)
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


class ManifestReader:
    """Feed the manifest's bytes in order; `finish` once gives the Manifest or the reason."""

    def __init__(self, *, max_rows: int = MANIFEST_MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._start = b""  # the first bytes, until the encoding is judged
        self._started = False
        self._carry = b""  # an incomplete UTF-8 sequence at the end of the last chunk
        self._bytes_decoded = 0
        self._newlines_decoded = 0
        self._text = ""  # decoded text not yet split into lines
        self._record: list[str] = []  # the lines of the record being read
        self._complete: list[str] = []  # lines of complete records, parsed once per chunk
        self._complete_from = 1  # the line number of self._complete[0]
        self._record_chars = 0
        self._record_quotes = 0
        self._lines = 0
        self._number = 0  # the last record's row number
        self._header: list[str] | None = None
        self._header_row = 0
        self._positions: dict[str, int] = {}
        self._rows: list[ManifestRow] = []
        self._values: dict[str, str] = {}  # one copy of each repeated value (labels, splits)
        self._problem: ManifestUnreadable | None = None

    def feed(self, data: bytes | memoryview) -> None:
        if self._problem is not None:
            return
        try:
            self._feed(bytes(data))
        except ManifestUnreadable as exc:
            self._problem = exc
            self._text, self._record, self._rows = "", [], []

    def finish(self) -> Manifest:
        if self._problem is None:
            try:
                if not self._started:
                    self._judge_start(final=True)
                self._decode(b"", final=True)
                self._split_lines(final=True)
                if self._record:  # an unclosed quote at the end: csv names it
                    self._complete += self._record
                    self._record = []
                    self._parse_complete()
            except ManifestUnreadable as exc:
                self._problem = exc
        if self._problem is not None:
            raise self._problem
        if self._header is None:
            raise ManifestUnreadable(
                "the manifest is empty; write a header row 'filename,patient_id,label' "
                "(optionally ',split,view') and one row per image"
            )
        return Manifest(
            header=tuple(self._header),
            header_row=self._header_row,
            columns=frozenset(self._positions),
            rows=tuple(self._rows),
        )

    # --- bytes to lines -----------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        if not self._started:
            self._start += data
            if len(self._start) < len(_UTF8_BOM) + 1:
                return
            data = self._judge_start(final=False)
        self._decode(data, final=False)
        self._split_lines(final=False)

    def _judge_start(self, *, final: bool) -> bytes:
        self._started = True
        head, self._start = self._start, b""
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ManifestUnreadable(
                "the manifest is UTF-16 (a spreadsheet's 'Unicode text'); save it as 'CSV UTF-8'"
            )
        if head.startswith(b"PK\x03\x04"):
            raise ManifestUnreadable(
                "the manifest is a spreadsheet workbook (.xlsx), not CSV; export it as 'CSV UTF-8'"
            )
        if head.startswith(_UTF8_BOM):
            self._bytes_decoded = len(_UTF8_BOM)
            head = head[len(_UTF8_BOM) :]
        if final:
            self._decode(head, final=False)
            return b""
        return head

    def _decode(self, data: bytes, *, final: bool) -> None:
        data = self._carry + data
        try:
            text, used = codecs.utf_8_decode(data, "strict", final)
        except UnicodeDecodeError as exc:
            at = self._bytes_decoded + exc.start
            line = self._newlines_decoded + data.count(b"\n", 0, exc.start) + 1
            raise ManifestUnreadable(
                f"the manifest is not UTF-8: byte {at} on line {line} (0x{data[exc.start]:02x}) "
                "cannot be decoded; save it as 'CSV UTF-8' (not Latin-1 or Windows-1252)",
                row=line,
            ) from exc
        self._carry = data[used:]
        self._bytes_decoded += used
        self._newlines_decoded += data.count(b"\n", 0, used)
        self._text += text

    def _split_lines(self, *, final: bool) -> None:
        text, at = self._text, 0
        for end in _LINE_END.finditer(text):
            self._add_line(text[at : end.end()])
            at = end.end()
        rest = text[at:]
        if final and rest:
            self._add_line(rest)
            rest = ""
        self._text = rest
        self._parse_complete()
        if self._record_chars + len(rest) > MANIFEST_MAX_RECORD_CHARS:
            self._too_long()

    def _add_line(self, line: str) -> None:
        self._lines += 1
        self._record.append(line)
        self._record_chars += len(line)
        self._record_quotes += line.count(_QUOTE)
        if self._record_chars > MANIFEST_MAX_RECORD_CHARS:
            self._too_long()
        if self._record_quotes % 2 == 0:  # not inside a quoted field: the record is complete
            if not self._complete:
                self._complete_from = self._lines - len(self._record) + 1
            self._complete += self._record
            self._record, self._record_chars, self._record_quotes = [], 0, 0

    def _too_long(self) -> None:
        self._parse_complete()  # number the rows before this one
        row = self._number + 1
        if self._record_quotes % 2:
            why = (
                "a quoted field is never closed: check that every opening '\"' has its closing "
                'one, and that a quote inside a field is doubled ("")'
            )
        else:
            why = "save the manifest with one row per line (line breaks '\\n' or '\\r\\n')"
        raise ManifestUnreadable(
            f"row {row} (from line {self._lines - len(self._record) + 1}) is longer than "
            f"{MANIFEST_MAX_RECORD_CHARS} characters; {why}",
            row=row,
        )

    # --- lines to rows ------------------------------------------------------------------

    def _parse_complete(self) -> None:
        lines, first_line = self._complete, self._complete_from
        self._complete = []
        reader = csv.reader(lines, strict=True)
        try:
            for record in reader:
                self._number += 1
                self._take(record)
        except csv.Error as exc:
            row = self._number + 1
            raise ManifestUnreadable(
                f"row {row} (line {first_line + reader.line_num - 1}) is not valid CSV "
                f"({_csv_words(exc)}); check its quotes: a field with a comma, quote or line "
                'break is wrapped in "...", and a quote inside it is doubled ("")',
                row=row,
            ) from exc

    def _take(self, record: list[str]) -> None:
        if not any(field.strip() for field in record):
            return  # blank lines and rows of empty cells, as spreadsheets export them
        number = self._number
        if self._header is None:
            self._header, self._header_row = [f.strip() for f in record], number
            self._positions = _column_positions(self._header, row=number)
            return
        if len(self._rows) >= self.max_rows:
            raise ManifestUnreadable(
                f"the manifest has more than {self.max_rows} rows, more than the dataset has "
                f"files; row {number} is past the limit. List each uploaded image once",
                row=number,
            )
        self._rows.append(self._row(record, number))

    def _row(self, record: list[str], number: int) -> ManifestRow:
        values = []
        for column in KNOWN_COLUMNS:  # filename, patient_id, label, split, view
            index = self._positions.get(column)
            text = record[index].strip() if index is not None and index < len(record) else ""
            if len(text) > MANIFEST_MAX_FIELD_CHARS:
                raise ManifestUnreadable(
                    f"row {number}: the '{column}' value is {len(text)} characters long, over "
                    f"the limit of {MANIFEST_MAX_FIELD_CHARS}; check the row's quotes and "
                    "separators",
                    row=number,
                )
            values.append(text)
        filename, patient_id, label, split, view = values
        shared = self._values  # labels, splits and views repeat: one copy of each
        return ManifestRow(
            row=number,
            filename=filename,
            patient_id=patient_id,
            label=shared.setdefault(label, label),
            split=shared.setdefault(split, split),
            view=shared.setdefault(view, view),
        )


def parse_manifest(content: bytes, *, max_rows: int = MANIFEST_MAX_ROWS) -> Manifest:
    """The manifest in `content`, or raises ManifestUnreadable."""
    reader = ManifestReader(max_rows=max_rows)
    reader.feed(content)
    return reader.finish()


def _csv_words(exc: csv.Error) -> str:
    return str(exc).replace("field larger than field limit", "a field is too long")


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

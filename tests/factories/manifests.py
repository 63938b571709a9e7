"""Manifests (`manifest.csv`) as teams write them: any column order, optional BOM, `\\r\\n`,
quoting, extra columns.

    manifest([{"filename": "a.png", "patient_id": "P1", "label": "Mass"}])
    manifest(rows, columns=("label", "filename", "patient_id", "site"), bom=True, crlf=True)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

COLUMNS = ("filename", "patient_id", "label", "split", "view")


def manifest(
    rows: Iterable[Mapping[str, str]],
    *,
    columns: Sequence[str] = COLUMNS,
    bom: bool = False,
    crlf: bool = False,
    quote_all: bool = False,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> bytes:
    """The CSV bytes; a row's keys missing from `columns` are dropped, missing values empty."""
    text = io.StringIO()
    writer = csv.writer(
        text,
        delimiter=delimiter,
        lineterminator="\r\n" if crlf else "\n",
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    data = text.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data

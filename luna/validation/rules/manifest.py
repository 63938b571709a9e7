"""Manifest rules: one readable `manifest.csv` with the required columns, valid values in
every row, and exactly one row per uploaded image. Rows are 1-based with the header as row 1.

    manifest, findings = read_manifest(content)
    findings += check_rows(manifest)
    rows_by_file, more = reconcile(manifest, declared=names, images=stored_images)
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from luna.validation.manifest_csv import Manifest, ManifestRow, ManifestUnreadable, parse_manifest
from luna.validation.report import Finding
from luna.validation.ruleset import (
    LABEL_SEPARATOR,
    LABELS,
    MANIFEST_MAX_BYTES,
    MANIFEST_NAME,
    NO_FINDING,
    PATIENT_ID_MAX_CHARS,
    PATIENT_ID_PATTERN,
    SPLITS,
    VIEWS,
    Rule,
)

_SPLIT_ALIASES = {
    "training": "train",
    "validation": "val",
    "valid": "val",
    "dev": "val",
    "testing": "test",
}
_VIEW_ALIASES = {"LATERAL": "LAT", "L": "LAT", "LL": "LAT", "RL": "LAT", "P-A": "PA", "A-P": "AP"}


def missing() -> Finding:
    """manifest.missing: no manifest.csv at the root of the dataset."""
    return Finding.of(
        Rule.MANIFEST_MISSING,
        file=None,
        message=(
            f"the dataset has no '{MANIFEST_NAME}' at its root; add one with a header "
            "'filename,patient_id,label' and one row per image"
        ),
    )


def too_large(size_bytes: int) -> Finding:
    """manifest.unreadable for a manifest over the size the dataset pass holds in memory."""
    return Finding.of(
        Rule.MANIFEST_UNREADABLE,
        file=MANIFEST_NAME,
        message=(
            f"the manifest is {size_bytes} bytes, over the limit of {MANIFEST_MAX_BYTES}; keep "
            "only the columns filename, patient_id, label, split and view, or split the dataset"
        ),
    )


def read_manifest(content: bytes) -> tuple[Manifest | None, list[Finding]]:
    """manifest.unreadable and manifest.missing_column. The manifest is returned even with
    missing columns, so the columns present are still checked."""
    try:
        manifest = parse_manifest(content)
    except ManifestUnreadable as exc:
        return None, [unreadable(exc)]
    return manifest, check_columns(manifest)


def unreadable(exc: ManifestUnreadable) -> Finding:
    """manifest.unreadable, with the reader's reason and row."""
    return Finding.of(Rule.MANIFEST_UNREADABLE, file=MANIFEST_NAME, row=exc.row, message=exc.reason)


def check_columns(manifest: Manifest) -> list[Finding]:
    """manifest.missing_column, one per required column the header lacks."""
    return [_missing_column(manifest, column) for column in manifest.missing_columns]


def _missing_column(manifest: Manifest, column: str) -> Finding:
    header = ",".join(manifest.header)
    if len(manifest.header) == 1 and any(sep in header for sep in ";\t"):
        hint = "the header looks separated by ';' or tabs: save the file comma-separated"
    else:
        unknown = [name for name in manifest.header if name.lower() not in manifest.columns]
        close = difflib.get_close_matches(column, [u.lower() for u in unknown], n=1, cutoff=0.6)
        hint = (
            f"rename the column '{close[0]}' to '{column}'" if close else f"add a '{column}' column"
        )
    return Finding.of(
        Rule.MANIFEST_MISSING_COLUMN,
        file=MANIFEST_NAME,
        row=manifest.header_row,
        message=f"the header ({header!r}) has no '{column}' column; {hint}",
    )


def check_rows(manifest: Manifest) -> list[Finding]:
    """manifest.bad_label, bad_patient_id, bad_split, bad_view: each column present, each row."""
    findings: list[Finding] = []
    for row in manifest.rows:
        if "patient_id" in manifest.columns:
            findings.extend(_check_patient_id(row))
        if "label" in manifest.columns:
            findings.extend(_check_label(row))
        if "split" in manifest.columns:
            findings.extend(
                _check_choice(
                    row, Rule.MANIFEST_BAD_SPLIT, "split", row.split, SPLITS, _SPLIT_ALIASES
                )
            )
        if "view" in manifest.columns:
            findings.extend(
                _check_choice(row, Rule.MANIFEST_BAD_VIEW, "view", row.view, VIEWS, _VIEW_ALIASES)
            )
    return findings


def valid_patient_id(value: str) -> bool:
    return (
        0 < len(value) <= PATIENT_ID_MAX_CHARS and PATIENT_ID_PATTERN.fullmatch(value) is not None
    )


def _check_patient_id(row: ManifestRow) -> list[Finding]:
    value = row.patient_id
    if valid_patient_id(value):
        return []
    if not value:
        problem = "patient_id is empty; give every image the pseudonym of its patient"
    elif len(value) > PATIENT_ID_MAX_CHARS:
        problem = f"patient_id is {len(value)} characters long; use at most {PATIENT_ID_MAX_CHARS}"
    else:
        bad = sorted({c for c in value if not PATIENT_ID_PATTERN.fullmatch(c)})
        shown = " ".join(repr(c) for c in bad)
        suggestion = "".join(c if PATIENT_ID_PATTERN.fullmatch(c) else "_" for c in value)
        problem = (
            f"patient_id '{value}' contains {shown}; use only letters, digits, '.', '_' and '-', "
            f"e.g. '{suggestion}'"
        )
    return [
        Finding.of(
            Rule.MANIFEST_BAD_PATIENT_ID,
            file=MANIFEST_NAME,
            row=row.row,
            message=f"row {row.row}: {problem}",
        )
    ]


def _check_label(row: ManifestRow) -> list[Finding]:
    value = row.label
    items = [item.strip() for item in value.split(LABEL_SEPARATOR)]
    if not value:
        problem = (
            f"label is empty; write the findings joined by '{LABEL_SEPARATOR}', or '{NO_FINDING}'"
        )
    elif "" in items:
        problem = f"label '{value}' has an empty part; remove the extra '{LABEL_SEPARATOR}'"
    elif unknown := [item for item in items if item not in LABELS]:
        problem = "; ".join(_unknown_label(item) for item in unknown)
    elif NO_FINDING in items and len(items) > 1:
        problem = (
            f"label '{value}' combines '{NO_FINDING}' with findings; '{NO_FINDING}' stands alone: "
            "keep either it or the findings"
        )
    else:
        return []
    return [
        Finding.of(
            Rule.MANIFEST_BAD_LABEL,
            file=MANIFEST_NAME,
            row=row.row,
            message=f"row {row.row}: {problem}",
        )
    ]


def _unknown_label(item: str) -> str:
    by_case = {label.lower().replace(" ", "_"): label for label in LABELS}
    exact = by_case.get(item.lower().replace(" ", "_"))
    close = [exact] if exact else difflib.get_close_matches(item, LABELS, n=1, cutoff=0.75)
    if close:
        return f"label '{item}' is not in the vocabulary; did you mean '{close[0]}'?"
    return f"label '{item}' is not in the vocabulary; use one of {', '.join(LABELS)}"


def _check_choice(
    row: ManifestRow,
    rule: Rule,
    column: str,
    value: str,
    allowed: Sequence[str],
    aliases: dict[str, str],
) -> list[Finding]:
    if not value or value in allowed:
        return []
    by_case = {a.lower(): a for a in allowed}
    guess = by_case.get(value.lower()) or aliases.get(value.lower()) or aliases.get(value.upper())
    hint = (
        f"did you mean '{guess}'?"
        if guess
        else "leave it empty or use one of " + ", ".join(allowed)
    )
    return [
        Finding.of(
            rule,
            file=MANIFEST_NAME,
            row=row.row,
            message=f"row {row.row}: {column} '{value}' is not one of {', '.join(allowed)}; {hint}",
        )
    ]


def normalized(filename: str) -> str:
    """How a manifest's filename is matched to an uploaded one: ignoring case, with Windows
    separators and a leading './' tolerated."""
    name = filename.strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.casefold()


def reconcile(
    manifest: Manifest,
    *,
    declared: Sequence[str],
    images: Sequence[str],
) -> tuple[dict[str, ManifestRow], list[Finding]]:
    """manifest.duplicate_row, unknown_file, unlisted_image.

    `declared` are every declared filename; `images` the image files in storage. Returns each
    declared file's row (the first one listing it) and the findings.
    """
    if "filename" not in manifest.columns:
        return {}, []
    by_key = {normalized(name): name for name in declared}
    by_basename: dict[str, list[str]] = {}
    for name in declared:
        by_basename.setdefault(normalized(name).rsplit("/", 1)[-1], []).append(name)
    first: dict[str, ManifestRow] = {}
    findings: list[Finding] = []
    for row in manifest.rows:
        key = normalized(row.filename)
        if not key:
            findings.append(_unknown(row, "filename is empty; name the image this row describes"))
        elif key in first:
            findings.append(_duplicate(row, first[key]))
        else:
            first[key] = row
            if key not in by_key:
                findings.append(
                    _unknown(
                        row,
                        _not_uploaded(row.filename, by_basename.get(key.rsplit("/", 1)[-1], [])),
                    )
                )
    rows_by_file = {by_key[key]: row for key, row in first.items() if key in by_key}
    findings.extend(_unlisted(name) for name in images if name not in rows_by_file)
    return rows_by_file, findings


def _not_uploaded(filename: str, same_basename: list[str]) -> str:
    if len(same_basename) == 1:
        return f"'{filename}' was not uploaded; did you mean '{same_basename[0]}'? Write the path as uploaded"
    return f"'{filename}' was not uploaded; upload it, correct the filename, or remove the row"


def _unknown(row: ManifestRow, problem: str) -> Finding:
    return Finding.of(
        Rule.MANIFEST_UNKNOWN_FILE,
        file=MANIFEST_NAME,
        row=row.row,
        message=f"row {row.row}: {problem}",
    )


def _duplicate(row: ManifestRow, first: ManifestRow) -> Finding:
    return Finding.of(
        Rule.MANIFEST_DUPLICATE_ROW,
        file=MANIFEST_NAME,
        row=row.row,
        message=(
            f"row {row.row}: '{row.filename}' is already listed on row {first.row}; keep one row "
            f"per image (several findings go in one label, joined by '{LABEL_SEPARATOR}')"
        ),
    )


def _unlisted(filename: str) -> Finding:
    return Finding.of(
        Rule.MANIFEST_UNLISTED_IMAGE,
        file=filename,
        message=(
            f"'{filename}' has no row in {MANIFEST_NAME}; add a row with its filename, "
            "patient_id and label, or leave the image out"
        ),
    )

"""Dataset rules: at least one image, no image uploaded twice, no patient in two splits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from luna.validation.manifest_csv import ManifestRow
from luna.validation.report import FileReport, Finding
from luna.validation.ruleset import MANIFEST_NAME, SPLITS, Rule


def check_empty(reports: Sequence[FileReport]) -> list[Finding]:
    """dataset.empty: no image file was declared at all."""
    if any(r.kind == "image" for r in reports):
        return []
    return [
        Finding.of(
            Rule.DATASET_EMPTY,
            file=None,
            message="the dataset has no image (.png, .jpg, .jpeg or .dcm); upload the images with the manifest",
        )
    ]


def check_duplicates(reports: Sequence[FileReport]) -> list[Finding]:
    """dataset.duplicate_image: every copy after the first (by filename) of identical bytes."""
    by_hash: dict[str, list[str]] = {}
    for r in reports:
        if r.present and r.kind == "image" and r.sha256:
            by_hash.setdefault(r.sha256, []).append(r.filename)
    findings: list[Finding] = []
    for names in by_hash.values():
        original, *copies = sorted(names)
        findings.extend(
            Finding.of(
                Rule.DATASET_DUPLICATE_IMAGE,
                file=copy,
                message=(
                    f"'{copy}' has the same bytes as '{original}'; remove the copy, or upload "
                    "the image it was meant to be"
                ),
            )
            for copy in copies
        )
    return findings


def check_patient_leakage(rows: Iterable[ManifestRow]) -> list[Finding]:
    """dataset.patient_leakage: one patient_id in more than one split (empty split ignored)."""
    splits_by_patient: dict[str, dict[str, list[int]]] = {}
    for row in rows:
        if row.patient_id and row.split in SPLITS:
            splits_by_patient.setdefault(row.patient_id, {}).setdefault(row.split, []).append(
                row.row
            )
    findings: list[Finding] = []
    for patient, splits in splits_by_patient.items():
        if len(splits) < 2:
            continue
        ordered = sorted(splits.items(), key=lambda item: min(item[1]))
        where = " and ".join(f"{split} ({_rows(numbers)})" for split, numbers in ordered)
        findings.append(
            Finding.of(
                Rule.DATASET_PATIENT_LEAKAGE,
                file=MANIFEST_NAME,
                row=min(ordered[1][1]),
                message=(
                    f"patient '{patient}' is in more than one split: {where}; put all images of a "
                    "patient in one split, so no model is tested on a patient it trained on"
                ),
            )
        )
    return findings


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in sorted(numbers)[:5])
    more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
    return f"row{'s' if len(numbers) > 1 else ''} {shown}{more}"

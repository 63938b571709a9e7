"""The dataset's statistics for `validation_results.stats`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from luna.validation.manifest_csv import ManifestRow
from luna.validation.report import FileReport
from luna.validation.ruleset import LABEL_SEPARATOR, LABELS, SPLITS

UNASSIGNED = "unassigned"


def dataset_stats(
    reports: Sequence[FileReport],
    rows_by_file: Mapping[str, ManifestRow],
) -> dict[str, Any]:
    """Counts over the stored files; labels, splits and patients from their manifest rows."""
    present = [r for r in reports if r.present]
    images = [r for r in present if r.kind == "image"]
    rows = [rows_by_file[r.filename] for r in images if r.filename in rows_by_file]
    labels: Counter[str] = Counter()
    for row in rows:
        labels.update(item.strip() for item in row.label.split(LABEL_SEPARATOR))
    splits = Counter(row.split or UNASSIGNED for row in rows)
    formats = Counter(r.format for r in images if r.format)
    widths = [r.width for r in images if r.width is not None]
    heights = [r.height for r in images if r.height is not None]
    return {
        "files": len(reports),
        "images": len(images),
        "patients": len({row.patient_id for row in rows if row.patient_id}),
        "bytes": sum(r.size_bytes or 0 for r in present),
        "by_format": dict(sorted(formats.items())),
        "by_label": {label: labels[label] for label in LABELS if labels[label]},
        "by_split": {s: splits[s] for s in (*SPLITS, UNASSIGNED) if splits[s]},
        "width": _range(widths),
        "height": _range(heights),
    }


def _range(values: list[int]) -> dict[str, int] | None:
    return {"min": min(values), "max": max(values)} if values else None

"""luna against DCMTK and GDCM on real DICOM files: the confusion tables.

Two sets (tests/factories/dicom_reference.py, judged in tests/validation/
test_dicom_reference.py): pydicom's own test files with pixel data, and damaged copies
(cuts at many offsets, bytes appended) of good ones in every transfer syntax DCMTK decodes.
It prints, for each, how often luna accepts or rejects what each tool accepts or rejects,
then every disagreement and whether tests/validation/dicom_allowlist.toml allows it, and why.

Run: python bench/dicom_conformance.py     (goal: no disagreement outside the list)
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories.dicom_reference import (
    CorpusVerdict,
    allowed,
    damaged_dicom_cases,
    dicom_confusion_table,
    disagreements,
    judge_corpus,
    judge_dicom,
    missing_tools,
)


def corpus_table(rows: list[CorpusVerdict]) -> tuple[str, int]:
    allow = allowed()
    lines = [f"pydicom's test files with pixel data: {len(rows)}"]
    counts: dict[tuple[bool, str], int] = {}
    for r in rows:
        refs = (
            "both decode"
            if not (r.dcmtk or r.gdcm)
            else "neither"
            if r.dcmtk and r.gdcm
            else "one decodes"
        )
        counts[(r.luna, refs)] = counts.get((r.luna, refs), 0) + 1
    for refs in ("both decode", "one decodes", "neither"):
        lines.append(
            f"  dcmtk+gdcm {refs:12}: luna accepts {counts.get((False, refs), 0):3}, "
            f"rejects {counts.get((True, refs), 0):3}"
        )
    outside = 0
    for r in rows:
        wrong = (not r.dcmtk and not r.gdcm and r.luna) or (r.dcmtk and r.gdcm and not r.luna)
        if wrong or r.name in allow:
            outside += wrong and r.name not in allow
            why = allow.get(r.name, "NOT ALLOWED").splitlines()[0]
            lines.append(f"    {r.name}: luna {'rejects' if r.luna else 'accepts'} -- {why}")
    return "\n".join(lines), outside


def main() -> int:
    warnings.simplefilter("ignore")
    if absent := missing_tools():
        print(f"dicom: skipped, not installed: {', '.join(absent)}")
        return 1
    text, outside = corpus_table(judge_corpus())
    print(text)
    with tempfile.TemporaryDirectory(prefix="luna-dicom-conformance-") as workdir:
        rows = judge_dicom(damaged_dicom_cases(), Path(workdir))
    print(dicom_confusion_table(rows))
    outside += len(disagreements(rows))
    print(f"  outside the allow-list: {outside}  (goal 0: {'ok' if not outside else 'MISSED'})")
    return 1 if outside else 0


if __name__ == "__main__":
    raise SystemExit(main())

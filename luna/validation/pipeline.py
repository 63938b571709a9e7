"""One file's streaming inspection, and the dataset-wide judgement over all files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from luna.validation.report import DeclaredFile, FileReport, Finding, Results
from luna.validation.rules import upload


class FileInspector:
    """Inspects one stored object as its bytes arrive; `feed` in order, then `finish` once."""

    def __init__(self, declared: DeclaredFile) -> None:
        self.declared = declared
        self._sha256 = hashlib.sha256()
        self._size_bytes = 0

    def feed(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self._size_bytes += len(chunk)

    def finish(self) -> FileReport:
        report = FileReport(
            filename=self.declared.filename,
            present=True,
            size_bytes=self._size_bytes,
            sha256=self._sha256.hexdigest(),
        )
        report.findings.extend(upload.check_stored(self.declared, report))
        return report


def missing_file_report(declared: DeclaredFile) -> FileReport:
    """The report for a declared file that is not in storage."""
    report = FileReport(filename=declared.filename, present=False)
    report.findings.extend(upload.check_stored(declared, report))
    return report


def judge_dataset(declared: Sequence[DeclaredFile], reports: Sequence[FileReport]) -> Results:
    """Every finding about the dataset, its statistics and per-file facts."""
    findings: list[Finding] = [f for r in reports for f in r.findings]
    present = [r for r in reports if r.present]
    stats = {
        "files": len(declared),
        "bytes": sum(r.size_bytes or 0 for r in present),
    }
    return Results(findings=findings, stats=stats, files=[r.facts() for r in present])

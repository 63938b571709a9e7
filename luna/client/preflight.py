"""The manifest checked on the team's disk before a byte is uploaded.

The same judge the validators run (`luna.validation.judge_dataset`) is given what is known
before uploading: every file's name and size and the manifest's bytes. That yields exactly
the server's manifest and dataset findings (manifest.*, dataset.empty,
dataset.patient_leakage); image rules need the pixels and stay with the server.

    findings = check_dataset_locally(files)     # list[Finding], in the server's order
"""

from __future__ import annotations

from collections.abc import Sequence

from luna.client.local_files import LocalFile
from luna.validation import DeclaredFile, FileReport, Finding, judge_dataset
from luna.validation.files import kind_of
from luna.validation.rules import manifest as manifest_rules
from luna.validation.ruleset import MANIFEST_MAX_BYTES


def check_dataset_locally(files: Sequence[LocalFile]) -> list[Finding]:
    declared = [
        DeclaredFile(
            file_id=number,
            filename=f.filename,
            content_type=f.content_type,
            size_bytes=f.size_bytes,
        )
        for number, f in enumerate(files, start=1)
    ]
    reports: list[FileReport] = []
    findings: list[Finding] = []
    for f in files:
        report = FileReport(filename=f.filename, present=True, size_bytes=f.size_bytes)
        if kind_of(f.filename) == "manifest":
            if f.size_bytes > MANIFEST_MAX_BYTES:
                findings.append(manifest_rules.too_large(f.size_bytes))
            else:
                report.content = f.path.read_bytes()
        reports.append(report)
    findings.extend(judge_dataset(declared, reports).findings)
    findings.sort(key=Finding.sort_key)
    return findings


def errors_in(findings: Sequence[Finding]) -> int:
    return sum(1 for f in findings if f.severity == "error")

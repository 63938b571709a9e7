"""What validation produces: findings, per-file facts and the dataset's results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from luna.validation.files import FileKind, kind_of
from luna.validation.manifest_csv import Manifest
from luna.validation.ruleset import RULE_ORDER, RULESET, SEVERITY, Rule, Severity

__all__ = ["RULESET", "DeclaredFile", "FileReport", "Finding", "Results", "Severity"]


@dataclass(frozen=True)
class DeclaredFile:
    """A file as the team declared it in `upload/start`."""

    file_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str | None = None


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, where (file, 1-based CSV row) and how to fix it."""

    rule: str
    severity: Severity
    file: str | None
    row: int | None
    message: str

    @classmethod
    def of(cls, rule: Rule, *, file: str | None, row: int | None = None, message: str) -> Finding:
        """A finding with the severity the ruleset gives `rule`."""
        return cls(
            rule=rule.value, severity=SEVERITY[rule.value], file=file, row=row, message=message
        )

    def sort_key(self) -> tuple[int, str, int, str]:
        """The stable report order: the contract's rule order, then file, row and message."""
        return (
            RULE_ORDER.get(self.rule, len(RULE_ORDER)),
            self.file or "",
            self.row or 0,
            self.message,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "row": self.row,
            "message": self.message,
        }


@dataclass
class FileReport:
    """Facts about one stored file and the findings about it alone."""

    filename: str
    present: bool
    size_bytes: int | None = None
    sha256: str | None = None
    # What the bytes are ("png", "jpeg", "dicom", "csv" for the manifest), None if unknown.
    format: str | None = None
    width: int | None = None
    height: int | None = None
    findings: list[Finding] = field(default_factory=list)
    # The manifest as parsed while it streamed, for the dataset-wide pass (None for images,
    # and for a manifest that could not be read: that finding is already in `findings`).
    manifest: Manifest | None = None
    # The manifest's bytes, when a caller holds them whole instead (the client's preflight).
    content: bytes | None = None
    # A DICOM's non-empty PatientID: allowed only when it equals the manifest row's patient_id,
    # which the dataset-wide pass decides.
    dicom_patient_id: str | None = None
    # A DICOM's PatientName (not empty, a placeholder or a declared tool's replacement):
    # allowed only when it is the manifest row's patient_id, which the dataset pass decides.
    dicom_patient_name: str | None = None

    @property
    def kind(self) -> FileKind:
        return kind_of(self.filename)

    def facts(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "format": self.format,
            "width": self.width,
            "height": self.height,
        }


@dataclass
class Results:
    """The dataset's verdict with everything that led to it."""

    findings: list[Finding]
    stats: dict[str, Any]
    files: list[dict[str, Any]]
    ruleset: str = RULESET

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def verdict(self) -> Literal["accepted", "rejected"]:
        return "rejected" if self.errors else "accepted"

    @property
    def rules(self) -> set[str]:
        """The distinct rule ids found."""
        return {f.rule for f in self.findings}

    def as_dict(self, *, findings: list[Finding] | None = None) -> dict[str, Any]:
        """The contract's `validation_results`; `findings` may be a capped subset."""
        shown = self.findings if findings is None else findings
        return {
            "verdict": self.verdict,
            "ruleset": self.ruleset,
            "summary": {"errors": self.errors, "warnings": self.warnings},
            "findings": [f.as_dict() for f in shown],
            "stats": self.stats,
            "files": self.files,
        }

    def stored(self, *, findings_per_rule: int) -> dict[str, Any]:
        """The results as committed: the contract's fields with at most `findings_per_rule`
        findings of each rule (in report order), the per-rule totals and whether any were left
        out, and how many files were stored. The files themselves, like every finding, are
        kept one row each, so reading a status never costs more for a larger dataset."""
        shown: list[Finding] = []
        totals: dict[str, int] = {}
        for finding in self.findings:
            totals[finding.rule] = totals.get(finding.rule, 0) + 1
            if totals[finding.rule] <= findings_per_rule:
                shown.append(finding)
        stored = self.as_dict(findings=shown)
        del stored["files"]
        stored["findings_total"] = totals
        stored["findings_truncated"] = len(shown) < len(self.findings)
        stored["files_total"] = len(self.files)
        return stored

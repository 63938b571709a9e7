"""What validation produces: findings, per-file facts and the dataset's results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]
RULESET = "luna2025-xray-v1"


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
    rule: str
    severity: Severity
    file: str | None
    row: int | None
    message: str

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
    format: str | None = None
    width: int | None = None
    height: int | None = None
    findings: list[Finding] = field(default_factory=list)
    # The manifest's bytes, kept for the dataset-wide pass (None for images).
    content: bytes | None = None

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

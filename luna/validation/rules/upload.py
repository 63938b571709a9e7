"""Upload integrity: the stored object is the one the team declared."""

from __future__ import annotations

from luna.validation.report import DeclaredFile, FileReport, Finding


def check_stored(declared: DeclaredFile, report: FileReport) -> list[Finding]:
    if not report.present:
        return [
            Finding(
                rule="upload.missing",
                severity="error",
                file=declared.filename,
                row=None,
                message=(
                    f"'{declared.filename}' was declared but never arrived in storage; "
                    "upload it to its URL (ask upload/start for a fresh one if it expired)"
                ),
            )
        ]
    findings = []
    if report.size_bytes != declared.size_bytes:
        findings.append(
            Finding(
                rule="upload.size_mismatch",
                severity="error",
                file=declared.filename,
                row=None,
                message=(
                    f"stored size is {report.size_bytes} bytes but {declared.size_bytes} were "
                    "declared; upload the complete file again, or declare its real size"
                ),
            )
        )
    if declared.sha256 and report.sha256 and declared.sha256.lower() != report.sha256:
        findings.append(
            Finding(
                rule="upload.checksum_mismatch",
                severity="error",
                file=declared.filename,
                row=None,
                message=(
                    f"stored bytes have SHA-256 {report.sha256}, not the declared "
                    f"{declared.sha256.lower()}; the file changed in transit or on disk: upload it again"
                ),
            )
        )
    return findings

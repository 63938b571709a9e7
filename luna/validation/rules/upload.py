"""Upload integrity: the stored object is the one the team declared."""

from __future__ import annotations

from luna.validation.report import DeclaredFile, FileReport, Finding
from luna.validation.ruleset import MANIFEST_NAME, Rule


def check_stored(declared: DeclaredFile, report: FileReport) -> list[Finding]:
    """upload.missing, upload.size_mismatch, upload.checksum_mismatch."""
    name = declared.filename
    if not report.present:
        what = "the manifest" if report.kind == "manifest" else f"'{name}'"
        return [
            Finding.of(
                Rule.UPLOAD_MISSING,
                file=name,
                message=(
                    f"{what} was declared but never arrived in storage; upload it to its URL "
                    "(ask upload/start for a fresh one if it expired)"
                    + (
                        f"; {MANIFEST_NAME} is needed to judge the images"
                        if report.kind == "manifest"
                        else ""
                    )
                ),
            )
        ]
    findings: list[Finding] = []
    if report.size_bytes != declared.size_bytes:
        findings.append(
            Finding.of(
                Rule.UPLOAD_SIZE_MISMATCH,
                file=name,
                message=(
                    f"stored size is {report.size_bytes} bytes but {declared.size_bytes} were "
                    "declared; upload the complete file again, or declare its real size"
                ),
            )
        )
    if declared.sha256 and report.sha256 and declared.sha256.lower() != report.sha256:
        findings.append(
            Finding.of(
                Rule.UPLOAD_CHECKSUM_MISMATCH,
                file=name,
                message=(
                    f"stored bytes have SHA-256 {report.sha256}, not the declared "
                    f"{declared.sha256.lower()}; the file changed in transit or on disk, or the "
                    "checksum was computed on another file: upload it again with its own checksum"
                ),
            )
        )
    return findings

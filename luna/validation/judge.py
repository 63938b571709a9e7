"""The dataset-wide pass: the manifest against the files, and rules over the whole set.

results = judge_dataset(declared_files, reports)   # one FileReport per declared file
results.verdict, results.findings, results.as_dict()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from luna.validation.manifest_csv import Manifest, ManifestRow
from luna.validation.report import DeclaredFile, FileReport, Finding, Results
from luna.validation.rules import dataset as dataset_rules
from luna.validation.rules import dicom as dicom_rules
from luna.validation.rules import manifest as manifest_rules
from luna.validation.stats import dataset_stats


def judge_dataset(declared: Sequence[DeclaredFile], reports: Sequence[FileReport]) -> Results:
    """Every finding about the dataset, in a stable order, its statistics and per-file facts."""
    findings: list[Finding] = [f for r in reports for f in r.findings]
    rows_by_file, manifest_findings = _judge_manifest(declared, reports)
    findings.extend(manifest_findings)
    findings.extend(_judge_dicom_patient_ids(reports, rows_by_file))
    findings.extend(dataset_rules.check_empty(reports))
    findings.extend(dataset_rules.check_duplicates(reports))
    findings.sort(key=Finding.sort_key)
    present = sorted((r for r in reports if r.present), key=lambda r: r.filename)
    return Results(
        findings=findings,
        stats=dataset_stats(reports, rows_by_file),
        files=[r.facts() for r in present],
    )


def _judge_manifest(
    declared: Sequence[DeclaredFile], reports: Sequence[FileReport]
) -> tuple[dict[str, ManifestRow], list[Finding]]:
    report = next((r for r in reports if r.kind == "manifest"), None)
    if report is None:
        return {}, [manifest_rules.missing()]
    if report.manifest is not None:
        manifest: Manifest | None = report.manifest
        findings = manifest_rules.check_columns(report.manifest)
    elif report.content is not None:
        manifest, findings = manifest_rules.read_manifest(report.content)
    else:
        return {}, []  # not stored, too large or unreadable: already reported with the file
    if manifest is None:
        return {}, findings
    findings.extend(manifest_rules.check_rows(manifest))
    images = [r.filename for r in reports if r.present and r.kind == "image"]
    names = [d.filename for d in declared] or [r.filename for r in reports]
    rows_by_file, reconciled = manifest_rules.reconcile(manifest, declared=names, images=images)
    findings.extend(reconciled)
    if "patient_id" in manifest.columns:
        valid = [
            row for row in rows_by_file.values() if manifest_rules.valid_patient_id(row.patient_id)
        ]
        findings.extend(dataset_rules.check_patient_leakage(valid))
    return rows_by_file, findings


def _judge_dicom_patient_ids(
    reports: Sequence[FileReport], rows_by_file: Mapping[str, ManifestRow]
) -> list[Finding]:
    findings: list[Finding] = []
    for r in reports:
        row = rows_by_file.get(r.filename)
        if r.dicom_patient_name:
            findings.extend(
                dicom_rules.check_patient_name(
                    r.filename,
                    name=r.dicom_patient_name,
                    row=row if row and row.patient_id else None,
                )
            )
        if r.dicom_patient_id and row is not None and row.patient_id:
            findings.extend(
                dicom_rules.check_patient_id(
                    r.filename, dicom_patient_id=r.dicom_patient_id, row=row
                )
            )
    return findings

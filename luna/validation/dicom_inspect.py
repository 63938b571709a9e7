"""One DICOM file's inspection: its structure, its header's rules, then every frame decoded.

findings = inspect_dicom("p003_a.dcm", spool, report)   # fills report's width/height
"""

from __future__ import annotations

from typing import IO

from luna.validation.dicom_file import read_dicom_header
from luna.validation.dicom_pixels import decode_dicom_pixels
from luna.validation.dicom_structure import walk_dicom
from luna.validation.dicom_syntax import UnsupportedSyntax
from luna.validation.raster import DecodeError
from luna.validation.report import FileReport, Finding
from luna.validation.rules import dicom as dicom_rules
from luna.validation.rules import image as image_rules
from luna.validation.ruleset import Rule


def inspect_dicom(name: str, fp: IO[bytes], report: FileReport) -> list[Finding]:
    """Every finding about one DICOM file held in `fp`.

    A file cut or damaged anywhere is `image.corrupt` (never `dicom.no_pixels`, which a cut
    inside the pixel data would otherwise look like); its header is still judged, so one
    validation reports all that is wrong with it.
    """
    damaged: Finding | None = None
    try:
        walk_dicom(fp)
    except DecodeError as exc:
        damaged = image_rules.corrupt(name, exc.reason)
    try:
        header = read_dicom_header(fp)
    except DecodeError as exc:
        return [damaged or image_rules.corrupt(name, exc.reason)]
    report.dicom_patient_id = header.patient_id or None
    report.dicom_patient_name = header.patient_name or None
    findings = dicom_rules.check_header(name, header)
    if damaged is not None:
        return [f for f in findings if f.rule != Rule.DICOM_NO_PIXELS] + [damaged]
    if not header.has_pixels:
        return findings
    if not header.rows or not header.columns:
        return [*findings, image_rules.corrupt(name, "Rows or Columns is missing from the header")]
    report.width, report.height = header.columns, header.rows
    dims = image_rules.check_dimensions(
        name, width=header.columns, height=header.rows, frames=header.frames
    )
    findings.extend(dims)
    if any(f.rule == Rule.IMAGE_TOO_LARGE for f in dims):
        return findings
    try:
        decode_dicom_pixels(header)
    except UnsupportedSyntax as exc:
        findings.append(dicom_rules.unsupported_syntax(name, exc.reason))
    except DecodeError as exc:
        findings.append(image_rules.corrupt(name, exc.reason))
    return findings

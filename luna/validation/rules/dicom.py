"""DICOM rules: an X-ray modality, no identifying attributes, no burned-in annotation, pixel
data present, grayscale. Plain functions over the parsed header."""

from __future__ import annotations

from luna.validation.dicom_file import DicomHeader, is_image_storage, uid_name
from luna.validation.manifest_csv import ManifestRow
from luna.validation.report import Finding
from luna.validation.ruleset import GRAYSCALE_PHOTOMETRICS, XRAY_MODALITIES, Rule


def check_header(filename: str, header: DicomHeader) -> list[Finding]:
    """dicom.not_xray, dicom.phi (all but PatientID), dicom.burned_in, dicom.no_pixels and
    image.not_grayscale for a DICOM file."""
    findings: list[Finding] = []
    if header.modality not in XRAY_MODALITIES:
        said = f"is '{header.modality}'" if header.modality else "is missing"
        findings.append(
            Finding.of(
                Rule.DICOM_NOT_XRAY,
                file=filename,
                message=(
                    f"Modality {said}, not an X-ray ({', '.join(XRAY_MODALITIES)}); upload "
                    "chest radiographs only, or correct the Modality attribute if it is one"
                ),
            )
        )
    if header.phi:
        listed = ", ".join(f"{kw} ({value})" for kw, value in header.phi.items())
        findings.append(
            Finding.of(
                Rule.DICOM_PHI,
                file=filename,
                message=(
                    f"identifying attributes are set: {listed}; remove them or leave them empty "
                    "(de-identify the file), and use the patient_id pseudonym instead"
                ),
            )
        )
    if header.burned_in == "YES":
        findings.append(
            Finding.of(
                Rule.DICOM_BURNED_IN,
                file=filename,
                message=(
                    "BurnedInAnnotation is YES: text is written into the pixels and may identify "
                    "the patient; upload an image without burned-in text"
                ),
            )
        )
    if not header.has_pixels:
        findings.append(
            Finding.of(
                Rule.DICOM_NO_PIXELS,
                file=filename,
                message=_no_pixels_message(header),
            )
        )
    elif header.photometric and header.photometric not in GRAYSCALE_PHOTOMETRICS:
        findings.append(
            Finding.of(
                Rule.IMAGE_NOT_GRAYSCALE,
                file=filename,
                message=(
                    f"PhotometricInterpretation is {header.photometric}; X-rays are grayscale "
                    "(MONOCHROME1 or MONOCHROME2): export the grayscale image"
                ),
            )
        )
    return findings


def check_patient_id(filename: str, *, dicom_patient_id: str, row: ManifestRow) -> list[Finding]:
    """dicom.phi for a PatientID other than the pseudonym in the file's manifest row."""
    if not dicom_patient_id or dicom_patient_id == row.patient_id:
        return []
    return [
        Finding.of(
            Rule.DICOM_PHI,
            file=filename,
            row=row.row,
            message=(
                f"PatientID is '{dicom_patient_id}' but the manifest (row {row.row}) gives "
                f"patient_id '{row.patient_id}'; set PatientID to the pseudonym "
                f"'{row.patient_id}' or leave it empty"
            ),
        )
    ]


def unsupported_syntax(filename: str, reason: str) -> Finding:
    """dicom.unsupported_syntax: a well-formed file in an encoding luna does not decode."""
    return Finding.of(Rule.DICOM_UNSUPPORTED_SYNTAX, file=filename, message=reason)


def _no_pixels_message(header: DicomHeader) -> str:
    if is_image_storage(header.sop_class):
        return (
            f"the file holds a {uid_name(header.sop_class)} object but no pixel data: it was "
            "exported without its image, or cut short right before the pixels; upload the "
            "complete DICOM image"
        )
    return (
        "the file has no pixel data (a report, structured report or header only); "
        "upload the DICOM image itself"
    )

"""DICOM rules: an X-ray modality, de-identified (PS3.15), no burned-in annotation, pixel data
present, grayscale. Plain functions over the parsed header."""

from __future__ import annotations

from luna.validation.deid import IdentifierScan, shown
from luna.validation.dicom_file import DicomHeader, is_image_storage, uid_name
from luna.validation.manifest_csv import ManifestRow
from luna.validation.report import Finding
from luna.validation.ruleset import GRAYSCALE_PHOTOMETRICS, XRAY_MODALITIES, Rule

# Attributes named in one finding; the rest are counted.
_LISTED_MAX = 8


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
    findings.extend(check_identifiers(filename, header.identifiers))
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


def check_identifiers(filename: str, scan: IdentifierScan) -> list[Finding]:
    """dicom.phi for direct identifiers anywhere, dicom.quasi_identifier for the rest."""
    findings = []
    if scan.direct:
        findings.append(
            Finding.of(
                Rule.DICOM_PHI,
                file=filename,
                message=(
                    f"identifying attributes are set: {_listed(scan.direct)}; remove them or "
                    "leave them empty (de-identify the file as DICOM PS3.15's Basic Profile "
                    "does), and use the patient_id pseudonym instead"
                ),
            )
        )
    if scan.quasi:
        findings.append(
            Finding.of(
                Rule.DICOM_QUASI_IDENTIFIER,
                file=filename,
                message=(
                    f"attributes that together may identify the patient are set: "
                    f"{_listed(scan.quasi)}; a PS3.15 de-identifier removes or replaces them "
                    "(dates may be kept shifted if PatientIdentityRemoved is YES and "
                    "DeidentificationMethod says so)"
                ),
            )
        )
    return findings


def _listed(found: list[tuple[str, str]]) -> str:
    named = ", ".join(f"{path} ({shown(value)})" for path, value in found[:_LISTED_MAX])
    more = len(found) - _LISTED_MAX
    return named + (f" and {more} more" if more > 0 else "")


def check_patient_name(filename: str, *, name: str, row: ManifestRow | None) -> list[Finding]:
    """dicom.phi for a PatientName other than the pseudonym in the file's manifest row."""
    if not name or (row is not None and _as_pseudonym(name) == row.patient_id):
        return []
    where = (
        f"the manifest (row {row.row}) gives patient_id '{row.patient_id}'"
        if row is not None
        else "a name identifies the patient"
    )
    fix = f"the pseudonym '{row.patient_id}'" if row is not None else "the patient_id pseudonym"
    return [
        Finding.of(
            Rule.DICOM_PHI,
            file=filename,
            row=row.row if row is not None else None,
            message=(
                f"PatientName is {shown(name)} but {where}; set PatientName to {fix} or "
                "leave it empty"
            ),
        )
    ]


def _as_pseudonym(name: str) -> str:
    """A PN holding one word: 'LUNA-0001^^^^' and 'LUNA-0001' both say LUNA-0001."""
    return name.split("=", 1)[0].strip("^ ")


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

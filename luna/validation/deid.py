"""De-identification judged as DICOM PS3.15's Basic Profile judges it, over the whole data set.

Two groups of attributes (docs/contract.md lists both):
- direct identifiers: every person name (any PN value), and the IDs, addresses and phone
  numbers of patients, staff and institutions, anywhere, nested sequences included. Set to a
  real value, they are `dicom.phi` errors naming the attribute's path.
- quasi-identifiers: dates and times, ages, station names, device serial numbers, study ids,
  accession numbers, free-text comments, private tags. Together they can point at a person;
  set, they are `dicom.quasi_identifier` warnings.

Values de-identification tools leave are not identifiers: empty, `^^^^`, placeholders such
as ANONYMOUS or REMOVED, dummy dates such as 00010101. A file declaring PatientIdentityRemoved
YES with a DeidentificationMethod has had its names, ids, addresses and dates replaced by the
tool (dicognito writes realistic ones): its values are taken as the tool's replacements, and
only private tags (which the Basic Profile removes) are still reported. Its top-level
PatientID must still be empty or the manifest's pseudonym.

    scan = scan_identifiers(ds)
    scan.direct   -> [("ReferencedPatientSequence[0].PatientName", "Doe^John")]
    scan.quasi    -> [("StudyDate", "20240131"), ("(0009,1001) private", "...")]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag

# PS3.15 Table E.1-1 attributes that identify a person or place directly (besides any PN).
DIRECT_IDENTIFIERS: Final = frozenset(
    {
        "PatientID",
        "OtherPatientIDs",
        "IssuerOfPatientID",
        "PatientBirthDate",
        "PatientBirthName",
        "PatientMotherBirthName",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "PatientTelecomInformation",
        "MedicalRecordLocator",
        "MilitaryRank",
        "BranchOfService",
        "PatientInsurancePlanCodeSequence",
        "ResponsiblePerson",
        "ResponsibleOrganization",
        "InstitutionName",
        "InstitutionAddress",
        "ReferringPhysicianAddress",
        "ReferringPhysicianTelephoneNumbers",
        "PersonAddress",
        "PersonTelephoneNumbers",
        "PersonTelecomInformation",
        "OrderCallbackPhoneNumber",
        "OrderCallbackTelecomInformation",
        "InstitutionalDepartmentName",
    }
)
# PS3.15 attributes that narrow a person down without naming them.
QUASI_IDENTIFIERS: Final = frozenset(
    {
        "PatientAge",
        "PatientSize",
        "PatientWeight",
        "EthnicGroup",
        "Occupation",
        "CountryOfResidence",
        "RegionOfResidence",
        "StationName",
        "DeviceSerialNumber",
        "DetectorID",
        "PlateID",
        "CassetteID",
        "GantryID",
        "StudyID",
        "AccessionNumber",
        "PatientComments",
        "ImageComments",
        "StudyComments",
        "AdditionalPatientHistory",
        "RequestedProcedureComments",
        "ImagingServiceRequestComments",
        "InterpretationText",
        "TextValue",
        "DerivationDescription",
        "AdmittingDiagnosesDescription",
        "PatientState",
        "MedicalAlerts",
        "Allergies",
        "SpecialNeeds",
        "PregnancyStatus",
        "LastMenstrualDate",
        "PerformedProcedureStepID",
        "ScheduledProcedureStepID",
        "RequestedProcedureID",
    }
)
# Dates and times are quasi-identifiers by their VR, wherever they are.
_TEMPORAL_VRS: Final = frozenset({"DA", "DT", "TM"})
# What de-identification tools write instead of a value (compared ignoring case, spaces, ^).
PLACEHOLDERS: Final = frozenset(
    {
        "",
        "ANONYMOUS",
        "ANONYMIZED",
        "ANONYMISED",
        "ANON",
        "DEIDENTIFIED",
        "DE-IDENTIFIED",
        "REMOVED",
        "REDACTED",
        "UNKNOWN",
        "NONE",
        "N/A",
        "NA",
        "X",
        "XX",
        "XXX",
        "XXXX",
        "0",
        "00",
        "000",
    }
)
DUMMY_DATES: Final = frozenset({"00000000", "00010101", "18000101", "19000101"})
# The top-level attributes judged against the manifest row's pseudonym, not here.
PSEUDONYM_KEYWORDS: Final = ("PatientName", "PatientID")
_SKIPPED_GROUPS: Final = frozenset({0x0002, 0x7FE0, 0xFFFC})  # meta, pixels, padding
_SHOWN_CHARS: Final = 40
# Sequences nest rarely beyond a few levels; deeper is a crafted file, not a radiograph.
_MAX_DEPTH: Final = 16


@dataclass
class IdentifierScan:
    """Attributes still holding values that may identify someone: (path, value) pairs."""

    direct: list[tuple[str, str]] = field(default_factory=list)
    quasi: list[tuple[str, str]] = field(default_factory=list)
    # PatientIdentityRemoved YES with a DeidentificationMethod (text or code sequence).
    declared: bool = False


def is_placeholder(value: str) -> bool:
    """True for what de-identification tools leave in place of a value."""
    compact = re.sub(r"[\s^=]", "", value).upper()
    return compact in PLACEHOLDERS or compact in DUMMY_DATES or set(compact) <= {"*", "-", "?"}


def declares_deidentified(ds: Dataset) -> bool:
    removed = _text(ds.get("PatientIdentityRemoved")).upper() == "YES"
    method = _text(ds.get("DeidentificationMethod")) or ds.get("DeidentificationMethodCodeSequence")
    return removed and bool(method)


def scan_identifiers(ds: Dataset) -> IdentifierScan:
    """Every set identifier in the data set, except the top-level PatientName and PatientID
    (the dataset pass sets them against the manifest's pseudonym)."""
    scan = IdentifierScan(declared=declares_deidentified(ds))
    _scan(ds, prefix="", scan=scan, depth=0)
    return scan


def _scan(ds: Dataset, *, prefix: str, scan: IdentifierScan, depth: int) -> None:
    for tag in list(ds.keys()):
        tag = BaseTag(tag)
        if tag.group in _SKIPPED_GROUPS or tag.element == 0x0000:
            continue
        raw = ds.get_item(tag, keep_deferred=True)
        if raw is None or _is_deferred(raw):
            continue  # a large deferred value (not text an identifier would be in)
        elem = ds[tag]
        keyword = elem.keyword
        path = f"{prefix}{keyword or _tag_text(tag)}"
        if elem.VR == "SQ":
            if depth >= _MAX_DEPTH:
                continue
            for index, item in enumerate(elem.value or []):
                _scan(item, prefix=f"{path}[{index}].", scan=scan, depth=depth + 1)
            continue
        if not prefix and keyword in PSEUDONYM_KEYWORDS:
            continue
        value = _text(elem.value)
        if not value or is_placeholder(value):
            continue
        if tag.is_private:
            if _printable(value):
                scan.quasi.append((f"{prefix}{_tag_text(tag)} (private)", value))
            continue
        if scan.declared:
            continue  # the declared tool replaced names, ids and dates with its own
        if elem.VR == "PN" or keyword in DIRECT_IDENTIFIERS:
            scan.direct.append((path, value))
        elif keyword in QUASI_IDENTIFIERS or elem.VR in _TEMPORAL_VRS:
            scan.quasi.append((path, value))


def _is_deferred(elem: Any) -> bool:
    return type(elem).__name__ == "RawDataElement" and getattr(elem, "value", None) is None


def _printable(value: str) -> bool:
    """Private values worth reporting: text, not binary blobs pydicom shows as bytes."""
    printable = sum(c.isprintable() for c in value)
    return printable >= 0.9 * len(value) and sum(c.isalpha() for c in value) >= 2


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1", "replace").replace("\x00", "").strip()
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(_text(v) for v in value).strip("\\ ")
    return str(value).replace("\x00", "").strip()


def shown(value: str) -> str:
    """A value as a finding quotes it: shortened, in quotes."""
    if len(value) > _SHOWN_CHARS:
        value = value[: _SHOWN_CHARS - 1] + "…"
    return f"'{value}'"

"""The ruleset `luna2025-xray-v1`: rule ids, severities, vocabularies and limits.

Everything a team's dataset is judged against lives here, so the contract (§2) and the code
can be read side by side. Rules are listed in the contract's order; findings are reported in
this order too.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final, Literal

RULESET: Final = "luna2025-xray-v1"

Severity = Literal["error", "warning"]


class Rule(StrEnum):
    """Every rule id a finding may carry, in the contract's order."""

    UPLOAD_MISSING = "upload.missing"
    UPLOAD_SIZE_MISMATCH = "upload.size_mismatch"
    UPLOAD_CHECKSUM_MISMATCH = "upload.checksum_mismatch"
    MANIFEST_MISSING = "manifest.missing"
    MANIFEST_UNREADABLE = "manifest.unreadable"
    MANIFEST_MISSING_COLUMN = "manifest.missing_column"
    MANIFEST_DUPLICATE_ROW = "manifest.duplicate_row"
    MANIFEST_UNKNOWN_FILE = "manifest.unknown_file"
    MANIFEST_UNLISTED_IMAGE = "manifest.unlisted_image"
    MANIFEST_BAD_LABEL = "manifest.bad_label"
    MANIFEST_BAD_PATIENT_ID = "manifest.bad_patient_id"
    MANIFEST_BAD_SPLIT = "manifest.bad_split"
    MANIFEST_BAD_VIEW = "manifest.bad_view"
    IMAGE_UNSUPPORTED_TYPE = "image.unsupported_type"
    IMAGE_TYPE_MISMATCH = "image.type_mismatch"
    IMAGE_CORRUPT = "image.corrupt"
    IMAGE_TOO_SMALL = "image.too_small"
    IMAGE_TOO_LARGE = "image.too_large"
    IMAGE_NOT_GRAYSCALE = "image.not_grayscale"
    IMAGE_METADATA = "image.metadata"
    DICOM_NOT_XRAY = "dicom.not_xray"
    DICOM_PHI = "dicom.phi"
    DICOM_BURNED_IN = "dicom.burned_in"
    DICOM_NO_PIXELS = "dicom.no_pixels"
    DICOM_UNSUPPORTED_SYNTAX = "dicom.unsupported_syntax"
    DICOM_QUASI_IDENTIFIER = "dicom.quasi_identifier"
    DATASET_EMPTY = "dataset.empty"
    DATASET_DUPLICATE_IMAGE = "dataset.duplicate_image"
    DATASET_PATIENT_LEAKAGE = "dataset.patient_leakage"


WARNINGS: Final = frozenset(
    {Rule.IMAGE_NOT_GRAYSCALE, Rule.IMAGE_METADATA, Rule.DICOM_QUASI_IDENTIFIER}
)
SEVERITY: Final[dict[str, Severity]] = {
    rule.value: ("warning" if rule in WARNINGS else "error") for rule in Rule
}
# Position of each rule in the contract's table: the first key of the findings' order.
RULE_ORDER: Final[dict[str, int]] = {rule.value: i for i, rule in enumerate(Rule)}

# --- files -------------------------------------------------------------------------------

MANIFEST_NAME: Final = "manifest.csv"
ImageFormat = Literal["png", "jpeg", "dicom"]
# Extensions are matched ignoring case.
IMAGE_EXTENSIONS: Final[dict[str, ImageFormat]] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".dcm": "dicom",
}
FORMAT_NAMES: Final[dict[str, str]] = {"png": "PNG", "jpeg": "JPEG", "dicom": "DICOM"}
FORMAT_EXTENSION: Final[dict[str, str]] = {"png": ".png", "jpeg": ".jpg", "dicom": ".dcm"}

# --- manifest ----------------------------------------------------------------------------

REQUIRED_COLUMNS: Final = ("filename", "patient_id", "label")
OPTIONAL_COLUMNS: Final = ("split", "view")
LABELS: Final = (
    "No Finding",
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
NO_FINDING: Final = "No Finding"
LABEL_SEPARATOR: Final = "|"
SPLITS: Final = ("train", "val", "test")
VIEWS: Final = ("PA", "AP", "LAT")
PATIENT_ID_MAX_CHARS: Final = 64
PATIENT_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]+")
# 100,000 rows of ~200 bytes is 20 MB; the manifest is held in memory for the dataset pass.
MANIFEST_MAX_BYTES: Final = 32 * 1024 * 1024
# The manifest is parsed as it streams, within these limits (each breach is a finding):
# a record's length (one line of a single-line file, or an unclosed quote swallowing the rest);
# a known column's value (filenames are at most 255 bytes; every label together is ~150);
# the rows kept, at most the dataset's files plus some spare (the validator passes its count).
MANIFEST_MAX_RECORD_CHARS: Final = 64 * 1024
MANIFEST_MAX_FIELD_CHARS: Final = 1024
MANIFEST_SPARE_ROWS: Final = 1000
MANIFEST_MAX_ROWS: Final = 100_000 + MANIFEST_SPARE_ROWS

# --- images ------------------------------------------------------------------------------

MIN_SIDE_PX: Final = 256
MAX_SIDE_PX: Final = 8192
# A multi-frame DICOM may not hold more pixels in all than one maximal image: the same
# memory bound as a single 8192 x 8192 frame.
MAX_TOTAL_PIXELS: Final = MAX_SIDE_PX * MAX_SIDE_PX
# The most memory one file's decoded pixels may take. Grayscale PNGs are never decoded (their
# integrity is checked streaming); a larger RGB or palette PNG has its colour judged from its
# type, a larger JPEG is decoded scaled down. 64 MiB holds a 4096 x 4096 RGB picture.
DECODE_BUDGET_BYTES: Final = 64 * 1024 * 1024
# JPEG decoding rounds chroma: channels of a grey picture stored as RGB may differ by 1 or 2.
GRAY_CHANNEL_TOLERANCE: Final = 2

# --- DICOM -------------------------------------------------------------------------------

XRAY_MODALITIES: Final = ("CR", "DX", "RG")
GRAYSCALE_PHOTOMETRICS: Final = ("MONOCHROME1", "MONOCHROME2")
# Which DICOM attributes identify someone (PS3.15): luna/validation/deid.py.

# --- embedded metadata in PNG/JPEG ---------------------------------------------------------

# EXIF tags naming a person or an owner (TIFF/EXIF tag numbers).
EXIF_PERSON_TAGS: Final[dict[int, str]] = {
    0x013B: "Artist",
    0x8298: "Copyright",
    0x9C9D: "XPAuthor",
}
EXIF_IFD: Final = 0x8769
EXIF_GPS_IFD: Final = 0x8825
EXIF_OWNER_TAG: Final = 0xA430  # CameraOwnerName, inside the Exif IFD
# PNG text chunk keywords (compared ignoring case) that name a person or an owner.
PNG_PERSON_KEYWORDS: Final = frozenset({"author", "artist", "owner", "copyright", "creator"})
# XMP properties that name a person or locate the picture.
XMP_PERSON_MARKERS: Final = (b"dc:creator", b"tiff:Artist", b"exif:GPSLatitude")

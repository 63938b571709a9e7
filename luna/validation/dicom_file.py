"""Reading a DICOM file with pydicom: the header first, the pixels only after the limits.

Large values (the pixel data above all) are deferred: the header is parsed without reading
them, so a file claiming a huge picture is refused before its pixels are loaded.

    header = read_dicom_header(fp)     # DicomHeader, or raises DecodeError
    decode_dicom_pixels(header)        # dicom_pixels: full decode, then everything released
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any, Final

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID

from luna.validation.deid import (
    IdentifierScan,
    declares_deidentified,
    is_placeholder,
    scan_identifiers,
)
from luna.validation.raster import DecodeError

# Values above this size are read only when used; the header of an X-ray is a few KiB.
_DEFER_BYTES: Final = 64 * 1024
_PIXEL_TAGS: Final = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # PixelData, Float, DoubleFloat
_QUOTED_MAX_CHARS: Final = 40


@dataclass
class DicomHeader:
    """What the header says, and the parsed data set for the pixel decode that may follow."""

    dataset: Dataset = field(repr=False)
    modality: str
    patient_id: str
    burned_in: str
    photometric: str
    # PatientName, unless empty, a placeholder or replaced by a declared de-identification:
    # the dataset pass allows only the manifest row's pseudonym in it.
    patient_name: str
    # Identifiers still set anywhere in the data set (PS3.15), by path.
    identifiers: IdentifierScan
    has_pixels: bool
    rows: int | None
    columns: int | None
    frames: int
    transfer_syntax: str
    file_bytes: int
    # The SOP class (what kind of object the file holds), from the meta information.
    sop_class: str = ""


def read_dicom_header(fp: IO[bytes]) -> DicomHeader:
    fp.seek(0)
    try:
        ds = pydicom.dcmread(fp, defer_size=_DEFER_BYTES)
        if not text_of(ds.file_meta.get("TransferSyntaxUID")):
            raise DecodeError(
                "the file meta information has no TransferSyntaxUID: the header is damaged"
            )
        return DicomHeader(
            dataset=ds,
            modality=text_of(ds.get("Modality")).upper(),
            patient_id=_unless_placeholder(text_of(ds.get("PatientID"))),
            burned_in=text_of(ds.get("BurnedInAnnotation")).upper(),
            photometric=text_of(ds.get("PhotometricInterpretation")).upper(),
            patient_name=_patient_name(ds),
            identifiers=scan_identifiers(ds),
            has_pixels=any(tag in ds for tag in _PIXEL_TAGS),
            rows=int_of(ds.get("Rows")),
            columns=int_of(ds.get("Columns")),
            frames=_frames(ds),
            transfer_syntax=text_of(ds.file_meta.get("TransferSyntaxUID")),
            file_bytes=fp.seek(0, 2),
            sop_class=text_of(ds.file_meta.get("MediaStorageSOPClassUID"))
            or text_of(ds.get("SOPClassUID")),
        )
    except DecodeError:
        raise
    except InvalidDicomError as exc:
        raise DecodeError(
            "the file meta information (group 0002, after 'DICM') is missing or damaged, so "
            "the DICOM header cannot be read"
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many kinds of errors on damaged headers
        # Its words are about Python objects, not the file: say what a team member can act on.
        raise DecodeError(
            "the DICOM header is damaged: an element's tag, value representation or length "
            "cannot be read"
        ) from exc


def _unless_placeholder(value: str) -> str:
    return "" if is_placeholder(value) else value


def _patient_name(ds: Dataset) -> str:
    if declares_deidentified(ds):
        return ""  # the declared tool replaced it
    return _unless_placeholder(text_of(ds.get("PatientName")))


def uid_name(value: str) -> str:
    """A UID's name in the DICOM standard, or the UID itself."""
    return UID(value).name if value else "object"


def is_image_storage(sop_class: str) -> bool:
    """True for the SOP classes of images (their pixel data is mandatory)."""
    return bool(sop_class) and "Image Storage" in UID(sop_class).name


def _frames(ds: Dataset) -> int:
    raw = ds.get("NumberOfFrames")
    if text_of(raw) == "":
        return 1
    frames = int_of(raw)
    if frames is None or frames < 1:
        raise DecodeError(f"NumberOfFrames is {_quoted(raw)}, not a whole number of frames")
    return frames


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(text_of(v) for v in value).strip("\\ ")
    return str(value).replace("\x00", "").strip()


def _quoted(value: Any) -> str:
    text = text_of(value)
    if len(text) > _QUOTED_MAX_CHARS:
        text = text[: _QUOTED_MAX_CHARS - 1] + "…"
    return f"'{text}'"


def int_of(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None

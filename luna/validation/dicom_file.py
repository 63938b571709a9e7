"""Reading a DICOM file with pydicom: the header first, the pixels only after the limits.

Large values (the pixel data above all) are deferred: the header is parsed without reading
them, so a file claiming a huge picture is refused before its pixels are loaded.

    header = read_dicom_header(fp)     # DicomHeader, or raises DecodeError
    decode_dicom_pixels(header)        # full decode, then everything is released
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import IO, Any, Final

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from luna.validation.raster import DecodeError
from luna.validation.ruleset import PHI_KEYWORDS

# Values above this size are read only when used; the header of an X-ray is a few KiB.
_DEFER_BYTES: Final = 64 * 1024
_PIXEL_TAGS: Final = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # PixelData, Float, DoubleFloat
_UNDEFINED_LENGTH: Final = 0xFFFFFFFF
_QUOTED_MAX_CHARS: Final = 40


@dataclass
class DicomHeader:
    """What the header says, and the parsed data set for the pixel decode that may follow."""

    dataset: Dataset = field(repr=False)
    modality: str
    patient_id: str
    burned_in: str
    photometric: str
    # Identifying attributes that are set: keyword -> value as shown to the team.
    phi: dict[str, str]
    has_pixels: bool
    rows: int | None
    columns: int | None
    frames: int
    transfer_syntax: str
    file_bytes: int


def read_dicom_header(fp: IO[bytes]) -> DicomHeader:
    fp.seek(0)
    try:
        ds = pydicom.dcmread(fp, defer_size=_DEFER_BYTES)
        if not _text(ds.file_meta.get("TransferSyntaxUID")):
            raise DecodeError(
                "the file meta information has no TransferSyntaxUID: the header is damaged"
            )
        return DicomHeader(
            dataset=ds,
            modality=_text(ds.get("Modality")).upper(),
            patient_id=_text(ds.get("PatientID")),
            burned_in=_text(ds.get("BurnedInAnnotation")).upper(),
            photometric=_text(ds.get("PhotometricInterpretation")).upper(),
            phi={kw: _quoted(ds.get(kw)) for kw in PHI_KEYWORDS if _text(ds.get(kw))},
            has_pixels=any(tag in ds for tag in _PIXEL_TAGS),
            rows=_int(ds.get("Rows")),
            columns=_int(ds.get("Columns")),
            frames=_int(ds.get("NumberOfFrames")) or 1,
            transfer_syntax=_text(ds.file_meta.get("TransferSyntaxUID")),
            file_bytes=fp.seek(0, 2),
        )
    except DecodeError:
        raise
    except InvalidDicomError as exc:
        raise DecodeError(f"the DICOM header cannot be read ({exc})") from exc
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many kinds of errors on damaged headers
        raise DecodeError(f"the DICOM header is damaged ({type(exc).__name__}: {exc})") from exc


def decode_dicom_pixels(header: DicomHeader) -> None:
    """Decode every frame once; raises DecodeError when the pixels are not usable."""
    ds = header.dataset
    syntax = UID(header.transfer_syntax) if header.transfer_syntax else None
    if syntax is None:
        raise DecodeError("the file meta information has no TransferSyntaxUID")
    try:
        available = get_decoder(syntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise DecodeError(
            f"the pixel data is encoded as '{syntax.name}', which luna cannot decode; export "
            "it uncompressed (Explicit VR Little Endian), or as RLE Lossless, JPEG baseline "
            "or JPEG 2000"
        )
    _check_pixel_extent(header)
    if not syntax.is_compressed:
        _check_native_length(header)
    try:
        pixels = ds.pixel_array
        del pixels
    except MemoryError:
        raise
    except Exception as exc:  # decoders raise anything on damaged input
        raise DecodeError(f"the pixel data does not decode ({exc})") from exc
    finally:
        # The decoded array and the raw bytes go with the data set; drop both now.
        if "PixelData" in ds:
            del ds.PixelData


def _check_pixel_extent(header: DicomHeader) -> None:
    """Refuse before reading: the pixel data must end inside the file."""
    elem = header.dataset.get_item(0x7FE00010, keep_deferred=True)
    length = getattr(elem, "length", None)
    start = getattr(elem, "value_tell", None)
    if length is None or start is None or length == _UNDEFINED_LENGTH:
        return
    missing = start + length - header.file_bytes
    if missing > 0:
        raise DecodeError(
            f"the file ends {missing} bytes before its pixel data does: the file is truncated"
        )


def _check_native_length(header: DicomHeader) -> None:
    """Refuse before reading: uncompressed pixels must be exactly what the header implies."""
    ds = header.dataset
    elem = ds.get_item(0x7FE00010, keep_deferred=True)
    if elem is None:
        return
    length = getattr(elem, "length", None)
    if length is None or length == _UNDEFINED_LENGTH:
        return
    samples = _int(ds.get("SamplesPerPixel")) or 1
    bits = _int(ds.get("BitsAllocated")) or 0
    pixels = (header.rows or 0) * (header.columns or 0) * header.frames * samples
    expected = math.ceil(pixels * bits / 8)
    if length < expected:
        raise DecodeError(
            f"the pixel data holds {length} bytes but Rows x Columns x frames x samples x "
            f"BitsAllocated need {expected}: the file is truncated or its header is wrong"
        )
    if length > expected + 1:  # one pad byte keeps the value length even
        raise DecodeError(
            f"the pixel data holds {length} bytes but Rows x Columns x frames x samples x "
            f"BitsAllocated need only {expected}: the header does not describe the pixels"
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(_text(v) for v in value).strip("\\ ")
    return str(value).replace("\x00", "").strip()


def _quoted(value: Any) -> str:
    text = _text(value)
    if len(text) > _QUOTED_MAX_CHARS:
        text = text[: _QUOTED_MAX_CHARS - 1] + "…"
    return f"'{text}'"


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None

"""Decoding a DICOM file's pixel data completely, frame by frame, with a named decoder.

Uncompressed pixel data must hold what PS3.5 says the header implies (Rows x Columns x
frames x samples x BitsAllocated, two samples a pixel for YBR_FULL_422, padded to an even
length); compressed frames must each decode. Only one frame is held decoded at a time.

    decode_dicom_pixels(header)   # raises DecodeError (UnsupportedSyntax for the encoding)
"""

from __future__ import annotations

import math
import re
from typing import Final

from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
)

from luna.validation import dicom_jpeg
from luna.validation.dicom_file import DicomHeader, int_of, text_of
from luna.validation.dicom_syntax import decoder_for
from luna.validation.raster import DecodeError

# Chroma subsampled horizontally: two luminance samples share one pair of chroma samples.
_SUBSAMPLED_422: Final = frozenset({"YBR_FULL_422", "YBR_PARTIAL_422"})
_SEQUENTIAL_JPEG: Final = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit})
# What pydicom and the plugins put before the decoder's own words.
_NOISE: Final = (
    re.compile(r"^Unable to decode as exceptions were raised by all available plugins:\s*"),
    re.compile(r"^\w+:\s*"),
    re.compile(r"libjpeg error code '-?\d+' returned from \w+\(\):\s*"),
    re.compile(r"Error decoding the J2K data:\s*"),
)
_REASON_MAX_CHARS: Final = 200
_UNDEFINED_LENGTH: Final = 0xFFFFFFFF


def decode_dicom_pixels(header: DicomHeader) -> None:
    """Decode every frame once; raises DecodeError when the pixels are not usable."""
    plugin = decoder_for(header.transfer_syntax)
    ds = header.dataset
    syntax = UID(header.transfer_syntax)
    try:
        _check_pixel_extent(header)
        if not syntax.is_compressed:
            check_native_length(header)
        try:
            _decode_frames(header, plugin)
        except DecodeError:
            if syntax not in _SEQUENTIAL_JPEG or not _repair_scan_headers(header):
                raise
            _decode_frames(header, plugin)
    finally:
        # The raw bytes go with the data set; drop them now.
        if "PixelData" in ds:
            del ds.PixelData


def _check_pixel_extent(header: DicomHeader) -> None:
    """Refuse before reading: the pixel data must end inside the file. A deflated data set's
    offsets count inflated bytes, so they cannot be set against the file's size."""
    if header.transfer_syntax == DeflatedExplicitVRLittleEndian:
        return
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


def _decode_frames(header: DicomHeader, plugin: str) -> None:
    decoder = get_decoder(UID(header.transfer_syntax))
    done = 0
    try:
        for pixels, _ in decoder.iter_array(header.dataset, decoding_plugin=plugin):
            del pixels
            done += 1
    except MemoryError:
        raise
    except Exception as exc:  # decoders raise anything on damaged input
        where = f"frame {done + 1} of {header.frames}" if header.frames > 1 else "the image"
        raise DecodeError(
            f"the pixel data does not decode ({where}: {decoder_words(exc)}): the file is "
            "damaged or truncated"
        ) from exc


def _repair_scan_headers(header: DicomHeader) -> bool:
    """Sequential JPEG frames whose scan header gives a spectral range other than 0..63:
    libjpeg refuses them, DCMTK and GDCM ignore the range (as ITU T.81 lets a sequential
    decoder do). Rewrite it in place; True when any frame changed."""
    ds = header.dataset
    frames = list(generate_frames(ds.PixelData, number_of_frames=header.frames))
    repaired = [dicom_jpeg.with_sequential_scan_range(frame) for frame in frames]
    if repaired == frames:
        return False
    ds.PixelData = encapsulate(repaired)
    return True


def decoder_words(exc: BaseException) -> str:
    """The decoder's own explanation, without Python's or pydicom's wrapping."""
    text = str(exc).strip()
    for pattern in _NOISE:
        text = pattern.sub("", text, count=1).strip()
    text = " ".join(text.split()) or "the decoder gave no reason"
    if len(text) > _REASON_MAX_CHARS:
        text = text[: _REASON_MAX_CHARS - 1] + "…"
    return text


def _native_layout(header: DicomHeader) -> tuple[int, int]:
    """(samples a pixel as stored, BitsAllocated) for uncompressed pixel data (PS3.5 8.2)."""
    ds = header.dataset
    samples = int_of(ds.get("SamplesPerPixel")) or 1
    if text_of(ds.get("PhotometricInterpretation")).upper() in _SUBSAMPLED_422:
        samples = 2  # Y Y Cb Cr for every two pixels
    return samples, int_of(ds.get("BitsAllocated")) or 0


def expected_native_bytes(header: DicomHeader) -> int:
    """PS3.5 8.1.1 and 8.2: the bytes uncompressed pixel data needs, before padding."""
    samples, bits = _native_layout(header)
    pixels = (header.rows or 0) * (header.columns or 0) * header.frames
    return math.ceil(pixels * samples * bits / 8)


def check_native_length(header: DicomHeader) -> None:
    """Refuse before decoding: uncompressed pixels must be what the header implies.

    Short is truncated. One byte over keeps an odd length even (PS3.5 7.1.1); more is
    trailing padding, accepted as DCMTK and GDCM accept it, unless it would hold a whole frame
    more (then NumberOfFrames or Rows/Columns are wrong).
    """
    elem = header.dataset.get_item(0x7FE00010, keep_deferred=True)
    length = getattr(elem, "length", None)
    if length is None:
        return
    if length == _UNDEFINED_LENGTH:
        raise DecodeError(
            "the pixel data is stored in fragments, as compressed data is, but the transfer "
            "syntax says it is uncompressed: the file is damaged"
        )
    expected = expected_native_bytes(header)
    frame_bytes = expected // max(header.frames, 1)
    samples, bits = _native_layout(header)
    need = (
        f"{header.rows} rows x {header.columns} columns x {header.frames} frame(s) x "
        f"{samples} sample(s) x {bits} bits need {expected}"
    )
    if length < expected:
        raise DecodeError(
            f"the pixel data holds {length} bytes but {need}: the file is truncated or its "
            "header is wrong"
        )
    if frame_bytes and length - expected >= frame_bytes:
        raise DecodeError(
            f"the pixel data holds {length} bytes but {need}, at least a whole frame less: "
            "NumberOfFrames, Rows or Columns do not describe the pixels"
        )

"""Reading what a file is, and how large its picture claims to be, from its first bytes.

The format comes from the bytes (signatures), never from the name; the dimensions come from
the header, before any decoder allocates memory for them: that is how a decompression bomb
is refused unopened.

    sniff_format(b"\\x89PNG\\r\\n\\x1a\\n...") -> "png"
    png_size(head) -> (width, height) | None
    jpeg_size(fp) -> (width, height) | None
"""

from __future__ import annotations

import struct
from typing import IO, Final

from luna.validation.ruleset import ImageFormat

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
JPEG_SOI: Final = b"\xff\xd8\xff"
DICOM_MAGIC: Final = b"DICM"
DICOM_MAGIC_OFFSET: Final = 128
# Enough of the head to recognise every format, including DICOM's magic at offset 128.
SNIFF_BYTES: Final = DICOM_MAGIC_OFFSET + len(DICOM_MAGIC)

# Other formats teams are likely to upload by mistake, to name them in a finding.
_OTHER_SIGNATURES: Final = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .zip?)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)

# JPEG start-of-frame markers carry the dimensions: SOF0..SOF15 except DHT, JPG and DAC.
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD9)})
# Real JPEGs have a handful of segments before the frame header; past this it is garbage.
_JPEG_MAX_SEGMENTS: Final = 4096


def sniff_format(head: bytes) -> ImageFormat | None:
    if head.startswith(PNG_SIGNATURE) or (len(head) > 1 and PNG_SIGNATURE.startswith(head)):
        return "png"  # a file cut inside the signature is a truncated PNG, not another type
    if head.startswith(JPEG_SOI):
        return "jpeg"
    if head[DICOM_MAGIC_OFFSET:SNIFF_BYTES] == DICOM_MAGIC:
        return "dicom"
    return None


def describe_bytes(head: bytes) -> str:
    """Words for what the bytes look like, for a finding's message."""
    fmt = sniff_format(head)
    if fmt == "png":
        return "a PNG image"
    if fmt == "jpeg":
        return "a JPEG image"
    if fmt == "dicom":
        return "a DICOM file"
    for signature, words in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return words
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[:2] in (b"\x02\x00", b"\x08\x00") and head[3:4] == b"\x00":
        # Group 0002 or 0008 first: a bare data set, as some exporters write it.
        return "a DICOM data set without its 128-byte preamble and 'DICM' marker"
    return "none of PNG, JPEG or DICOM"


def png_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from the IHDR chunk, which PNG requires to come first."""
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def jpeg_size(fp: IO[bytes]) -> tuple[int, int] | None:
    """Width and height from the first frame header, walking the segments from the start.

    Returns None when the frame header is missing (truncated or damaged file).
    """
    fp.seek(0)
    if fp.read(2) != b"\xff\xd8":
        return None
    for _ in range(_JPEG_MAX_SEGMENTS):
        byte = fp.read(1)
        if byte != b"\xff":
            return None
        marker = fp.read(1)
        while marker == b"\xff":  # fill bytes before a marker
            marker = fp.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _JPEG_STANDALONE:
            continue
        if code in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        length_bytes = fp.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if code in _JPEG_SOF:
            frame = fp.read(5)
            if len(frame) < 5:
                return None
            _precision, height, width = struct.unpack(">BHH", frame)
            return int(width), int(height)
        if length < 2:
            return None
        fp.seek(length - 2, 1)
    return None

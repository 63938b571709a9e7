"""Decoding PNG and JPEG pixels within a memory budget, and reading what pixels and tags say.

A PNG's integrity is judged by `png_stream.PngStream` as its bytes arrive; its pixels are
decoded only when the colour check needs them (palette and RGB types) and fit the budget. A
JPEG is decoded by libjpeg-turbo (simplejpeg) in strict mode, so the warnings libjpeg raises
on corrupt data (a premature end of a data segment, a bad Huffman code, a frame taller than
its scan) refuse the file, as `djpeg` does; Pillow would ignore them. A JPEG whose full-size
decode would exceed the budget is decoded scaled down: every coefficient is still read, so
the verdict is the same.

    facts = decode_jpeg(buffer)                 # RasterFacts, or raises DecodeError
    facts = png_pixel_facts(fp, png_facts)      # fp None: too large to decode, judged by type
    facts = decode_raster(fp, "png")            # a whole file at once (tests, tools)
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Final

import numpy as np
import simplejpeg
from PIL import Image

from luna.validation.png_stream import PngDamaged, PngFacts, PngStream
from luna.validation.ruleset import (
    DECODE_BUDGET_BYTES,
    EXIF_GPS_IFD,
    EXIF_IFD,
    EXIF_OWNER_TAG,
    EXIF_PERSON_TAGS,
    GRAY_CHANNEL_TOLERANCE,
    PNG_PERSON_KEYWORDS,
    XMP_PERSON_MARKERS,
    ImageFormat,
)

_GRAY_MODES: Final = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_PALETTE_MODES: Final = frozenset({"P", "PA"})
# Colour is checked band by band so a large RGB picture is never copied whole.
_COLOUR_BAND_ROWS: Final = 256
_QUOTED_MAX_CHARS: Final = 40
# Pillow holds RGB(A) (16-bit ones reduced to 8) in 4 bytes a pixel, a palette index in 1.
_PILLOW_BYTES_PER_PIXEL: Final = {2: 4, 3: 1, 6: 4}
_JPEG_SCALES: Final = (1, 2, 4, 8)
_XMP_KEY: Final = "XML:com.adobe.xmp"
# libjpeg's words for damage, and what they mean to someone who exported the file.
_JPEG_WORDS: Final = {
    "premature end of jpeg file": "the file ends before the picture data does: it is truncated",
    "premature end of data segment": "the compressed picture data ends early (damaged or cut)",
    "bad huffman code": "the compressed picture data is damaged (a bad Huffman code)",
    "extraneous bytes before marker": "stray bytes were found between the JPEG's segments",
    "instead of rst": "restart markers are missing or out of order (damaged or cut data)",
    "bogus huffman table": "a Huffman table in the header is damaged",
    "could not determine subsampling": "the frame header is damaged (invalid sampling factors)",
    "not a jpeg file": "the JPEG header is damaged",
}
# TurboJPEG prefixes its messages with the function that failed: "tjDecompress2(): ...".
_FUNCTION_PREFIX: Final = re.compile(r"^\w+\(\):\s*")


class DecodeError(Exception):
    """The picture does not decode; `reason` says why in a team member's words."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


@dataclass(frozen=True)
class RasterFacts:
    width: int
    height: int
    mode: str
    colour: bool
    # What may identify someone, e.g. "EXIF GPS position", "PNG text 'Author' ('Jane Roe')".
    identifying: list[str] = field(default_factory=list)
    # True when the picture was too large to decode within the memory budget, so `colour`
    # comes from how it is stored, not from its pixels.
    colour_from_type: bool = False


def decode_raster(fp: IO[bytes], fmt: ImageFormat) -> RasterFacts:
    """Check and decode a whole PNG or JPEG from `fp` (held in memory or spooled)."""
    fp.seek(0)
    if fmt == "jpeg":
        return decode_jpeg(fp.read())
    walk = PngStream()
    while piece := fp.read(1024 * 1024):
        walk.feed(piece)
    try:
        png = walk.finish()
    except PngDamaged as exc:
        raise DecodeError(exc.reason) from exc
    return png_pixel_facts(fp if png_needs_pixels(png) else None, png)


# --- PNG --------------------------------------------------------------------------------


def png_needs_pixels(png: PngFacts) -> bool:
    """Whether the colour check needs the decoded pixels, and they fit the memory budget.

    Grayscale types need no decode: the integrity was already checked in full by the walk.
    """
    per_pixel = _PILLOW_BYTES_PER_PIXEL.get(png.colour_type)
    return per_pixel is not None and png.width * png.height * per_pixel <= DECODE_BUDGET_BYTES


def png_pixel_facts(fp: IO[bytes] | None, png: PngFacts) -> RasterFacts:
    """Facts about a PNG whose bytes passed `PngStream`; `fp` holds them when
    `png_needs_pixels` said so, and is None otherwise."""
    identifying = png_identifying(png.text_chunks)
    mode = f"{png.colour_name}, {png.bit_depth}-bit"
    if png.colour_type in (0, 4):
        return RasterFacts(png.width, png.height, mode, colour=False, identifying=identifying)
    if fp is None:
        return RasterFacts(
            png.width, png.height, mode, colour=True, identifying=identifying, colour_from_type=True
        )
    fp.seek(0)
    try:
        with Image.open(fp, formats=["PNG"]) as im:
            im.load()
            return RasterFacts(im.width, im.height, mode, is_colour(im), identifying=identifying)
    except MemoryError:
        raise
    except Exception as exc:  # the walk passed the file, so this is a decoder limitation
        raise DecodeError(f"the PNG's pixels do not decode ({_plain(exc)})") from exc


def png_identifying(chunks: list[tuple[bytes, bytes]]) -> list[str]:
    """What the text and EXIF chunks kept by the walk say about a person or a place."""
    found: list[str] = []
    text: dict[str, str] = {}
    for kind, data in chunks:
        if kind == b"eXIf":
            exif = Image.Exif()
            try:
                exif.load(data)
            except Exception:  # damaged EXIF is not a damaged picture; nothing to report
                continue
            found.extend(_exif_identifying(exif))
        else:
            key, value = _png_text(kind, data)
            if key:
                text[key] = value
    for key, value in text.items():
        if key.lower() in PNG_PERSON_KEYWORDS and _as_text(value):
            found.append(f"PNG text '{key}' ({_quoted(value)})")
    if xmp := text.get(_XMP_KEY):
        found.extend(_xmp_identifying(xmp.encode("utf-8", "replace")))
    return found


def _png_text(kind: bytes, data: bytes) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk; ('', '') when it cannot be read."""
    keyword, sep, rest = data.partition(b"\x00")
    if not sep:
        return "", ""
    try:
        if kind == b"tEXt":
            return keyword.decode("latin-1"), rest.decode("latin-1")
        if kind == b"zTXt":
            return keyword.decode("latin-1"), _inflate_text(rest[1:]).decode("latin-1")
        compressed, _method = rest[0], rest[1]
        _language, _, rest = rest[2:].partition(b"\x00")
        _translated, _, value = rest.partition(b"\x00")
        raw = _inflate_text(value) if compressed else value
        return keyword.decode("latin-1"), raw.decode("utf-8", "replace")
    except (IndexError, zlib.error, ValueError):
        return "", ""


def _inflate_text(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    # Text worth quoting is short: never inflate a text bomb whole.
    return inflater.decompress(data, 1024 * 1024)


# --- JPEG -------------------------------------------------------------------------------


def decode_jpeg(data: Any) -> RasterFacts:
    """Decode every coefficient of the JPEG in `data` (bytes-like), scaled down when the
    full picture would not fit the memory budget; libjpeg's warnings are errors here."""
    try:
        height, width, colourspace, _subsampling = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise DecodeError(_jpeg_reason(exc)) from exc
    channels = 1 if colourspace == "Gray" else 3 if colourspace in ("YCbCr", "RGB") else 4
    target = "GRAY" if channels == 1 else "RGB" if channels == 3 else "CMYK"
    scale = next(
        (
            s
            for s in _JPEG_SCALES
            if _ceil(width, s) * _ceil(height, s) * channels <= DECODE_BUDGET_BYTES
        ),
        _JPEG_SCALES[-1],
    )
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace=target, min_factor=scale, strict=True)
    except ValueError as exc:
        raise DecodeError(_jpeg_reason(exc)) from exc
    colour = channels > 1 and _array_is_colour(pixels)
    del pixels
    return RasterFacts(
        width, height, f"JPEG {colourspace}", colour, identifying=_jpeg_identifying(data)
    )


def _ceil(size: int, scale: int) -> int:
    return -(-size // scale)


def _jpeg_reason(exc: ValueError) -> str:
    text = _FUNCTION_PREFIX.sub("", str(exc).strip().rstrip("."))
    lowered = text.lower()
    for words, plain in _JPEG_WORDS.items():
        if words in lowered:
            return plain
    return f"the JPEG decoder reports '{text}'"


def _jpeg_identifying(data: Any) -> list[str]:
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            return identifying_metadata(im)
    except Exception:  # the pixels decoded: unreadable tags are no reason to refuse
        return []


def _array_is_colour(pixels: np.ndarray) -> bool:
    for top in range(0, pixels.shape[0], _COLOUR_BAND_ROWS):
        band = pixels[top : top + _COLOUR_BAND_ROWS, :, :3]
        spread = band.max(axis=2) - band.min(axis=2)
        if int(spread.max()) > GRAY_CHANNEL_TOLERANCE:
            return True
    return False


def _plain(exc: Exception) -> str:
    return str(exc).strip() or "the decoder gave no reason"


# --- pixels and tags --------------------------------------------------------------------


def is_colour(im: Image.Image) -> bool:
    """True when the pixels carry colour, not when the file merely stores grey as RGB."""
    if im.mode in _GRAY_MODES:
        return False
    if im.mode in _PALETTE_MODES:
        return _palette_is_colour(im)
    width, height = im.size
    for top in range(0, height, _COLOUR_BAND_ROWS):
        band = im.crop((0, top, width, min(height, top + _COLOUR_BAND_ROWS)))
        if band.mode not in ("RGB", "RGBA", "RGBX"):
            band = band.convert("RGB")
        pixels = np.asarray(band)[..., :3]
        spread = pixels.max(axis=2) - pixels.min(axis=2)
        if int(spread.max()) > GRAY_CHANNEL_TOLERANCE:
            return True
    return False


def _palette_is_colour(im: Image.Image) -> bool:
    palette = im.getpalette() or []
    used = im.getcolors(maxcolors=256) or []
    for _count, index in used:
        idx = int(index[0] if isinstance(index, tuple) else index)
        rgb = palette[idx * 3 : idx * 3 + 3]
        if len(rgb) == 3 and max(rgb) - min(rgb) > GRAY_CHANNEL_TOLERANCE:
            return True
    return False


def identifying_metadata(im: Image.Image) -> list[str]:
    """Embedded tags (EXIF, XMP) of an opened JPEG that may identify a person or a place."""
    try:
        exif = im.getexif()
    except Exception:  # damaged EXIF is not a damaged picture; nothing to report from it
        exif = Image.Exif()
    found = _exif_identifying(exif)
    xmp = im.info.get("xmp")
    if xmp:
        found.extend(
            _xmp_identifying(xmp.encode("utf-8", "replace") if isinstance(xmp, str) else bytes(xmp))
        )
    return found


def _xmp_identifying(raw: bytes) -> list[str]:
    return [f"XMP {marker.decode()}" for marker in XMP_PERSON_MARKERS if marker in raw]


def _exif_identifying(exif: Image.Exif) -> list[str]:
    try:
        gps = exif.get_ifd(EXIF_GPS_IFD) if EXIF_GPS_IFD in exif else {}
        owner = exif.get_ifd(EXIF_IFD).get(EXIF_OWNER_TAG) if EXIF_IFD in exif else None
    except Exception:  # damaged EXIF is not a damaged picture; nothing to report from it
        return []
    found = []
    if gps:
        found.append("EXIF GPS position")
    for tag, name in EXIF_PERSON_TAGS.items():
        value = exif.get(tag)
        if _as_text(value):
            found.append(f"EXIF {name} ({_quoted(value)})")
    if _as_text(owner):
        found.append(f"EXIF CameraOwnerName ({_quoted(owner)})")
    return found


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        # XP* tags are UTF-16LE; others ASCII.
        encoding = "utf-16-le" if len(value) % 2 == 0 and b"\x00" in value else "latin-1"
        value = value.decode(encoding, "replace")
    return str(value).replace("\x00", "").strip()


def _quoted(value: Any) -> str:
    text = _as_text(value)
    if len(text) > _QUOTED_MAX_CHARS:
        text = text[: _QUOTED_MAX_CHARS - 1] + "…"
    return f"'{text}'"

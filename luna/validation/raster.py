"""Decoding PNG and JPEG completely with Pillow, and reading what the pixels and tags say.

Call only after the dimensions read from the header passed the limits: `decode_raster`
allocates the whole picture.

    facts = decode_raster(fp, "png")   # RasterFacts, or raises DecodeError
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any, Final

import numpy as np
from PIL import Image

from luna.validation.ruleset import (
    EXIF_GPS_IFD,
    EXIF_IFD,
    EXIF_OWNER_TAG,
    EXIF_PERSON_TAGS,
    GRAY_CHANNEL_TOLERANCE,
    PNG_PERSON_KEYWORDS,
    XMP_PERSON_MARKERS,
    ImageFormat,
)

_PILLOW_FORMATS: Final = {"png": "PNG", "jpeg": "JPEG"}
_GRAY_MODES: Final = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_PALETTE_MODES: Final = frozenset({"P", "PA"})
# Colour is checked band by band so a large RGB picture is never copied whole.
_COLOUR_BAND_ROWS: Final = 256
_QUOTED_MAX_CHARS: Final = 40


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


def decode_raster(fp: IO[bytes], fmt: ImageFormat) -> RasterFacts:
    """Open, verify (PNG checksums) and fully decode the picture in `fp`."""
    pillow_format = _PILLOW_FORMATS[fmt]
    # The dimensions were checked against our limits, which sit below Pillow's own bomb
    # threshold, so its global guard (and its warnings filter) never decides here.
    try:
        if fmt == "png":
            # verify() checks every chunk's CRC, which load() skips.
            fp.seek(0)
            with Image.open(fp, formats=[pillow_format]) as im:
                im.verify()
        fp.seek(0)
        with Image.open(fp, formats=[pillow_format]) as im:
            im.load()
            return RasterFacts(
                width=im.width,
                height=im.height,
                mode=im.mode,
                colour=is_colour(im),
                identifying=identifying_metadata(im),
            )
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecodeError(str(exc), too_large=True) from exc
    except MemoryError:
        raise
    except Exception as exc:  # decoders raise anything on damaged input
        raise DecodeError(_reason(exc)) from exc


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "truncated" in text.lower():
        return f"the file is truncated ({text})"
    return text


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
    """Embedded tags that may identify a person or a place."""
    found = _exif_identifying(im)
    text = getattr(im, "text", None) or {}
    for key, value in text.items():
        if key.lower() in PNG_PERSON_KEYWORDS and _as_text(value):
            found.append(f"PNG text '{key}' ({_quoted(value)})")
    xmp = im.info.get("xmp") or text.get("XML:com.adobe.xmp")
    if xmp:
        raw = xmp.encode("utf-8", "replace") if isinstance(xmp, str) else bytes(xmp)
        found.extend(f"XMP {marker.decode()}" for marker in XMP_PERSON_MARKERS if marker in raw)
    return found


def _exif_identifying(im: Image.Image) -> list[str]:
    try:
        exif = im.getexif()
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

"""Synthetic chest-X-ray-like pictures and the files that carry them: PNG, JPEG, GIF.

The pixels are smooth anatomy-like gradients (torso, lungs, ribs, spine, heart) plus noise,
so encoders work as on real radiographs (no flat areas that compress to nothing). Every
function is deterministic in its `seed`; different seeds give different bytes.

    png(288, 320, seed=1)                   # 8-bit grayscale PNG
    png(288, 320, seed=1, bits=16)          # 16-bit grayscale PNG
    jpeg(288, 320, seed=2, progressive=True)
    png_bomb(100_000, 100_000)              # a valid PNG header claiming 10^10 pixels
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

import numpy as np
from PIL import Image, PngImagePlugin

WIDTH = 288
HEIGHT = 320


@lru_cache(maxsize=256)
def _density(width: int, height: int, seed: int) -> np.ndarray:
    """Radiodensity in [0, 1], shaped like a frontal chest film; cached, so treat as read-only."""
    rng = np.random.default_rng(seed)
    shift_x, shift_y = rng.uniform(-0.06, 0.06, size=2)
    y, x = np.mgrid[-1 : 1 : height * 1j, -1 : 1 : width * 1j]
    x = x - shift_x
    y = y - shift_y
    torso = np.sqrt(np.clip(1 - (x / 0.92) ** 2, 0, 1))
    lungs = sum(
        np.exp(-((((x - cx) / 0.27) ** 2 + ((y + 0.05) / 0.55) ** 2) ** 2)) for cx in (-0.38, 0.38)
    )
    ribs = 0.07 * np.sin(17 * y + 4 * np.abs(x) + rng.uniform(0, np.pi)) * lungs
    spine = np.exp(-((x / 0.07) ** 2))
    heart = np.exp(-2 * (((x + 0.12) / 0.3) ** 2 + ((y - 0.25) / 0.3) ** 2))
    density = 0.2 + 0.55 * torso - 0.4 * lungs + 0.25 * spine + 0.25 * heart + ribs
    density = density + rng.normal(0, 0.02, size=density.shape)
    density = np.clip(density, 0, 1)
    density.setflags(write=False)
    return density


def chest_pixels(
    width: int = WIDTH, height: int = HEIGHT, *, seed: int = 0, bits: int = 8
) -> np.ndarray:
    """A grayscale picture: uint8 for `bits=8`, uint16 (12 bits used) for 12, uint16 for 16."""
    density = _density(width, height, seed)
    if bits == 8:
        return (density * 255).astype(np.uint8)
    top = (1 << bits) - 1
    return (density * top).astype(np.uint16)


def colour_pixels(width: int = WIDTH, height: int = HEIGHT, *, seed: int = 0) -> np.ndarray:
    """An RGB picture with a visible tint (a photo of a film, an annotated screenshot)."""
    gray = _density(width, height, seed)
    rgb = np.stack([gray, gray**1.6, gray**0.6], axis=-1)
    return (rgb * 255).astype(np.uint8)


def _encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def png(
    width: int = WIDTH,
    height: int = HEIGHT,
    *,
    seed: int = 0,
    bits: int = 8,
    colour: bool = False,
    text: dict[str, str] | None = None,
) -> bytes:
    """A PNG: 8 or 16-bit grayscale, or 8-bit RGB with `colour`; `text` adds tEXt chunks."""
    if colour:
        im = Image.fromarray(colour_pixels(width, height, seed=seed))
    else:
        im = Image.fromarray(chest_pixels(width, height, seed=seed, bits=bits))
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
    return _encode(im, "PNG", pnginfo=info)


def jpeg(
    width: int = WIDTH,
    height: int = HEIGHT,
    *,
    seed: int = 0,
    progressive: bool = False,
    quality: int = 90,
    colour: bool = False,
    gray_as_rgb: bool = False,
    artist: str | None = None,
    gps: bool = False,
) -> bytes:
    """A JPEG, baseline or progressive; grayscale, RGB-stored grey, or colour; optional EXIF
    Artist and GPS position."""
    if colour:
        im = Image.fromarray(colour_pixels(width, height, seed=seed))
    else:
        im = Image.fromarray(chest_pixels(width, height, seed=seed))
        if gray_as_rgb:
            im = im.convert("RGB")
    exif = Image.Exif()
    if artist:
        exif[0x013B] = artist
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd.update({1: "N", 2: (52.0, 22.0, 12.5), 3: "E", 4: (4.0, 53.0, 40.1)})
    return _encode(im, "JPEG", quality=quality, progressive=progressive, exif=exif.tobytes())


def gif(width: int = WIDTH, height: int = HEIGHT, *, seed: int = 0) -> bytes:
    return _encode(Image.fromarray(chest_pixels(width, height, seed=seed)), "GIF")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny, well-formed PNG whose header claims `width` x `height` 8-bit grey pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_claiming(data: bytes, *, width: int, height: int) -> bytes:
    """`data` (a JPEG) with its frame header rewritten to claim another size."""
    index = 2
    while index < len(data):
        marker, length = data[index + 1], struct.unpack(">H", data[index + 2 : index + 4])[0]
        if marker in (0xC0, 0xC2):
            patched = bytearray(data)
            patched[index + 5 : index + 9] = struct.pack(">HH", height, width)
            return bytes(patched)
        index += 2 + length
    raise ValueError("no frame header found")


def truncated(data: bytes, *, keep: float = 0.6) -> bytes:
    """The first `keep` fraction of `data`: an upload cut short."""
    return data[: int(len(data) * keep)]


def png_with_bad_crc(data: bytes) -> bytes:
    """`data` (a PNG) with one byte flipped inside its first IDAT chunk: the CRC fails."""
    index = data.index(b"IDAT") + 4 + 20
    damaged = bytearray(data)
    damaged[index] ^= 0xFF
    return bytes(damaged)

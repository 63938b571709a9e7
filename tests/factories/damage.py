"""Good PNG and JPEG files and damaged copies of them, for judging luna against the reference
tools (`pngcheck`, `djpeg`, `jpeginfo -c`).

Each damaged copy has a `kind` (what was done: "truncate", "idat_flip", "crc", ...) and a
`name` unique in its set. The damage is what uploads meet: transfers cut short, bits flipped
in storage, checksums broken, files joined, and the structural faults encoders get wrong.
Deterministic: the same files every run.

    for case in png_cases(): case.name, case.kind, case.data
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .images import chest_pixels, colour_pixels, jpeg, png

SIDE = (288, 320)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    data: bytes


# --- PNG -------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _chunks(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(offset, type, data) of every chunk of a well-formed PNG."""
    found, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        found.append((at, data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return found


def png_interlaced(width: int, height: int, *, seed: int) -> bytes:
    """An Adam7-interlaced 8-bit grayscale PNG (Pillow does not write interlaced PNGs)."""
    pixels = chest_pixels(width, height, seed=seed)
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
    raw = bytearray()
    for x0, y0, dx, dy in (*passes, (0, 1, 1, 2)):
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            for row in sub:
                raw += b"\x00" + row.tobytes()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + _chunk(b"IEND", b"")
    )


def _palette_png(seed: int) -> bytes:
    im = Image.fromarray(colour_pixels(*SIDE, seed=seed)).quantize(64)
    buffer = io.BytesIO()
    im.save(buffer, format="PNG")
    return buffer.getvalue()


def good_pngs() -> dict[str, bytes]:
    return {
        "gray8": png(*SIDE, seed=41, text={"Software": "luna tests"}),
        "gray16": png(*SIDE, seed=42, bits=16),
        "rgb": png(*SIDE, seed=43, colour=True),
        "palette": _palette_png(44),
        "interlaced": png_interlaced(*SIDE, seed=45),
    }


def _with_idat(good: bytes, compressed: bytes) -> bytes:
    """`good` with its image data replaced by `compressed` (one IDAT, valid CRCs)."""
    parts = _chunks(good)
    head = b"".join(_chunk(k, d) for _, k, d in parts if k not in (b"IDAT", b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + head + _chunk(b"IDAT", compressed) + _chunk(b"IEND", b"")


def _raw_image_data(good: bytes) -> bytes:
    return zlib.decompress(b"".join(d for _, k, d in _chunks(good) if k == b"IDAT"))


def _png_structure(good: bytes) -> Iterator[tuple[str, bytes]]:
    """Faults a careless encoder or tool writes, every chunk's CRC valid."""
    ihdr_end = 33
    body, head = good[ihdr_end:], good[:ihdr_end]
    ihdr = good[16:29]
    raw = _raw_image_data(good)
    yield "unknown_critical", head + _chunk(b"LUNA", b"xyz") + body
    yield "reserved_bit", head + _chunk(b"luna", b"xyz") + body
    yield "unknown_ancillary", head + _chunk(b"luNa", b"xyz") + body
    yield "two_ihdr", head + good[8:ihdr_end] + body
    yield "compression_1", good[:8] + _chunk(b"IHDR", ihdr[:10] + b"\x01" + ihdr[11:]) + body
    yield "filter_1", good[:8] + _chunk(b"IHDR", ihdr[:11] + b"\x01" + ihdr[12:]) + body
    yield "bad_depth", good[:8] + _chunk(b"IHDR", ihdr[:8] + b"\x03" + ihdr[9:]) + body
    if ihdr[9] in (0, 4):
        yield "plte_in_gray", head + _chunk(b"PLTE", bytes(range(12))) + body
    yield "rows_missing", _with_idat(good, zlib.compress(raw[: len(raw) * 2 // 3]))
    yield "rows_extra", _with_idat(good, zlib.compress(raw + raw[: len(raw) // 4]))
    yield "zlib_cut", _with_idat(good, zlib.compress(raw)[: len(zlib.compress(raw)) * 3 // 4])
    yield "no_idat", good[:ihdr_end] + _chunk(b"IEND", b"")
    yield "iend_not_empty", good[:-12] + _chunk(b"IEND", b"\x00")
    parts = _chunks(good)
    idat = b"".join(d for _, k, d in parts if k == b"IDAT")
    split = _with_idat(good, idat[: len(idat) // 2])[:-12]
    yield (
        "idat_not_consecutive",
        (split + _chunk(b"tEXt", b"Comment\x00x") + _chunk(b"IDAT", idat[len(idat) // 2 :]))
        + _chunk(b"IEND", b""),
    )


def _png_flips(good: bytes, rng: np.random.Generator) -> Iterator[tuple[str, bytes]]:
    parts = _chunks(good)
    idats = [(at, d) for at, k, d in parts if k == b"IDAT"]
    at, data = idats[0]
    for n in range(3):  # a flipped bit: the CRC catches it
        where = at + 8 + int(rng.integers(0, len(data)))
        damaged = bytearray(good)
        damaged[where] ^= 1 << int(rng.integers(0, 8))
        yield f"idat_flip{n}", bytes(damaged)
    for n in range(6):  # flipped and the CRC recomputed: only the image data can tell
        compressed = bytearray(b"".join(d for _, k, d in parts if k == b"IDAT"))
        where = int(rng.integers(2, len(compressed)))
        compressed[where] ^= int(rng.integers(1, 256))
        yield f"idat_flip_crc_fixed{n}", _with_idat(good, bytes(compressed))


def _png_crcs(good: bytes) -> Iterator[tuple[str, bytes]]:
    for at, kind, data in _chunks(good):
        crc_at = at + 8 + len(data)
        damaged = bytearray(good)
        damaged[crc_at + 3] ^= 0x01
        yield f"crc_{kind.decode()}", bytes(damaged)


def _truncations(good: bytes, *, fixed: tuple[int, ...]) -> Iterator[tuple[str, bytes]]:
    cuts = {*(int(len(good) * f / 16) for f in range(1, 16)), *fixed}
    for cut in sorted(c for c in cuts if 0 < c < len(good)):
        yield f"cut{cut}", good[:cut]


def _trailing(good: bytes, other: bytes) -> Iterator[tuple[str, bytes]]:
    yield "trailing_zero", good + b"\x00"
    yield "trailing_text", good + b"uploaded by luna-client\n"
    yield "trailing_file", good + other


def png_cases() -> list[Case]:
    rng = np.random.default_rng(2025)
    goods = good_pngs()
    cases = [Case(f"{name}.good", "good", data) for name, data in goods.items()]
    for name, good in goods.items():
        n = len(good)
        generated = [
            *(("truncate", c) for c in _truncations(good, fixed=(5, 20, 33, n - 12, n - 4, n - 1))),
            *(("idat_flip", c) for c in _png_flips(good, rng)),
            *(("crc", c) for c in _png_crcs(good)),
            *(("trailing", c) for c in _trailing(good, goods["gray8"])),
            *(("structure", c) for c in _png_structure(good)),
        ]
        for kind, (label, data) in generated:
            kind = label if kind == "structure" else kind
            kind = "idat_flip_crc_fixed" if label.startswith("idat_flip_crc_fixed") else kind
            cases.append(Case(f"{name}.{label}", kind, data))
    return cases


# --- JPEG ------------------------------------------------------------------------------


def good_jpegs() -> dict[str, bytes]:
    return {
        "gray": jpeg(*SIDE, seed=51),
        "gray_progressive": jpeg(*SIDE, seed=52, progressive=True),
        "colour": jpeg(*SIDE, seed=53, colour=True),
        "colour_progressive": jpeg(*SIDE, seed=54, colour=True, progressive=True),
        "exif_restarts": _jpeg_with_restarts(55),
    }


def _jpeg_with_restarts(seed: int) -> bytes:
    im = Image.fromarray(chest_pixels(*SIDE, seed=seed))
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=85, restart_marker_blocks=8)
    return buffer.getvalue()


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, marker, length) of each marker segment before the first scan's data."""
    found, at = [], 2
    while at < len(data) - 4:
        marker = data[at + 1]
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        found.append((at, marker, length))
        if marker == 0xDA:
            break
        at += 2 + length
    return found


def _scan_data(data: bytes) -> tuple[int, int]:
    """(start, end) of the first scan's entropy-coded data."""
    at, _marker, length = _segments(data)[-1]
    start = at + 2 + length
    end = start
    while end < len(data) - 1:
        if data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8)):
            break
        end += 1
    return start, end


def _jpeg_flips(good: bytes, rng: np.random.Generator) -> Iterator[tuple[str, bytes]]:
    start, end = _scan_data(good)
    for n in range(8):
        damaged = bytearray(good)
        where = int(rng.integers(start, end))
        value = damaged[where] ^ int(rng.integers(1, 256))
        if value == 0xFF or damaged[where] == 0xFF or damaged[where - 1] == 0xFF:
            value = damaged[where] ^ 0x0F  # keep the byte stuffing and markers as they are
        damaged[where] = value
        yield f"ecs_flip{n}", bytes(damaged)


def _jpeg_headers(good: bytes) -> Iterator[tuple[str, bytes]]:
    segments = _segments(good)
    sof = next(at for at, marker, _ in segments if marker in (0xC0, 0xC1, 0xC2))
    (height,) = struct.unpack(">H", good[sof + 5 : sof + 7])
    for extra in (16, 200):
        taller = bytearray(good)
        taller[sof + 5 : sof + 7] = struct.pack(">H", height + extra)
        yield f"sof_taller{extra}", bytes(taller)
    start, _end = _scan_data(good)
    yield "no_eoi", good[:-2]
    yield "scan_cut_then_eoi", good[: start + (len(good) - start) // 2] + b"\xff\xd9"
    dht = next((at for at, marker, _ in segments if marker == 0xC4), None)
    if dht is not None:
        damaged = bytearray(good)
        damaged[dht + 5] ^= 0x3C  # the code counts of the first Huffman table
        yield "dht_damaged", bytes(damaged)
    yield "marker_inside_scan", good[: start + 100] + b"\xff\xc4" + good[start + 100 :]


def jpeg_cases() -> list[Case]:
    rng = np.random.default_rng(2026)
    goods = good_jpegs()
    cases = [Case(f"{name}.good", "good", data) for name, data in goods.items()]
    for name, good in goods.items():
        start, _end = _scan_data(good)
        fixed = (3, 40, start - 2, start + 1, len(good) - 2, len(good) - 1)
        generated = [
            *(("truncate", c) for c in _truncations(good, fixed=fixed)),
            *(("ecs_flip", c) for c in _jpeg_flips(good, rng)),
            *(("trailing", c) for c in _trailing(good, goods["gray"])),
            *(("structure", c) for c in _jpeg_headers(good)),
        ]
        for kind, (label, data) in generated:
            cases.append(Case(f"{name}.{label}", label if kind == "structure" else kind, data))
    return cases

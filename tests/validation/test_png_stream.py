"""PngStream: the chunk walk and the streamed image data, in any chunking, in constant memory."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from factories import png
from factories.damage import png_interlaced

from luna.validation.png_stream import PngDamaged, PngStream, check_png, raw_size_bytes


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


GOOD = png(300, 260, seed=61)
HEAD, BODY = GOOD[:33], GOOD[33:]
IHDR = GOOD[16:29]
RAW = zlib.decompress(GOOD[41 : GOOD.index(b"IEND") - 8])


def with_idat(compressed: bytes) -> bytes:
    return HEAD + chunk(b"IDAT", compressed) + chunk(b"IEND", b"")


def reason(data: bytes) -> str:
    with pytest.raises(PngDamaged) as caught:
        check_png(data)
    return caught.value.reason


def test_a_good_png_gives_its_header() -> None:
    facts = check_png(GOOD)
    assert (facts.width, facts.height, facts.bit_depth, facts.colour_name) == (
        300,
        260,
        8,
        "grayscale",
    )


def test_an_interlaced_png_holds_every_pass() -> None:
    data = png_interlaced(301, 259, seed=3)
    assert check_png(data).interlaced
    assert raw_size_bytes(301, 259, bits_per_pixel=8, interlaced=True) > 301 * 259


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (with_idat(zlib.compress(RAW[: len(RAW) // 2])), "rows are missing"),
        (with_idat(zlib.compress(RAW[:-5])[:-30]), "stops early"),
        (with_idat(zlib.compress(RAW + RAW[:301])), "more than the"),
        (with_idat(zlib.compress(RAW) + b"junk"), "continues after its compressed stream"),
        (
            with_idat(zlib.compress(b"\x09" + RAW[1:])),
            "row 1 of the image data has an invalid filter type (9)",
        ),
        (GOOD + b"\x00", "data after the IEND chunk"),
        (GOOD[:-2], "ends inside the IEND chunk"),
        (GOOD[:1000], "truncated"),
        (GOOD[:6], "ends inside the PNG signature"),
        (HEAD + chunk(b"LUNA", b"x") + BODY, "unknown critical chunk LUNA"),
        (HEAD + chunk(b"luna", b"x") + BODY, "reserved bit"),
        (HEAD + chunk(b"PLTE", bytes(6)) + BODY, "grayscale image, which must not have a palette"),
        (HEAD + GOOD[8:33] + BODY, "second IHDR"),
        (GOOD[:8] + chunk(b"IHDR", IHDR[:10] + b"\x01" + IHDR[11:]) + BODY, "compression method 1"),
        (GOOD[:8] + chunk(b"IHDR", IHDR[:8] + b"\x03" + IHDR[9:]) + BODY, "bit depth 3"),
        (GOOD[:8] + BODY, "first chunk is IDAT, not IHDR"),
        (HEAD + chunk(b"IEND", b""), "no image data"),
        (GOOD[:50] + bytes([GOOD[50] ^ 1]) + GOOD[51:], "fails its checksum (CRC)"),
        (GOOD[:-1] + bytes([GOOD[-1] ^ 1]), "chunk IEND at byte"),
        (b"\x89PNG\n\x1a\n" + GOOD[8:], "signature is damaged"),
        (HEAD + b"\x00\x00\x00\x01ID\x00T" + BODY, "invalid type (bytes 49 44 00 54, not four"),
    ],
)
def test_damage_is_named(data: bytes, words: str) -> None:
    assert words in reason(data)


def test_the_verdict_is_the_same_for_any_chunking() -> None:
    damaged = with_idat(zlib.compress(RAW[: len(RAW) // 2]))
    for data in (GOOD, damaged, GOOD + b"x"):
        verdicts = set()
        for size in (3, 64, 4096):
            walk = PngStream()
            for start in range(0, len(data), size):
                walk.feed(data[start : start + size])
            try:
                verdicts.add(repr(walk.finish()))
            except PngDamaged as exc:
                verdicts.add(exc.reason)
        assert len(verdicts) == 1, verdicts


def huge_rgba16_png(side: int, *, level: int) -> Iterator[bytes]:
    """A `side` x `side` RGBA 16-bit PNG of black pixels, in pieces (8192: 512 MiB of pixels
    in ~0.5 MB at level 9)."""
    yield b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0))
    deflate = zlib.compressobj(level)
    row = bytes(1 + side * 8)
    compressed = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    for start in range(0, len(compressed), 1 << 20):
        yield chunk(b"IDAT", compressed[start : start + (1 << 20)])
    yield chunk(b"IEND", b"")


def test_a_huge_png_is_checked_in_constant_memory() -> None:
    pieces = list(huge_rgba16_png(4096, level=1))  # 128 MiB of pixels
    walk = PngStream()
    tracemalloc.start()
    try:
        for piece in pieces:
            walk.feed(piece)
        facts = walk.finish()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (facts.width, facts.height, facts.bit_depth) == (4096, 4096, 16)
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.1f} MiB held"

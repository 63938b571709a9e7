"""Image rules and what they read: signatures, header dimensions, decoding, colour, metadata."""

from __future__ import annotations

import io

import numpy as np
import pytest
from factories import (
    chest_pixels,
    gif,
    jpeg,
    jpeg_claiming,
    png,
    png_bomb,
    png_with_bad_crc,
    truncated,
)
from PIL import Image

from luna.validation.headers import describe_bytes, jpeg_size, png_size, sniff_format
from luna.validation.raster import DecodeError, RasterFacts, decode_raster, is_colour
from luna.validation.rules.image import check_decoded, check_dimensions, check_supported, check_type


def test_sniffing_reads_signatures() -> None:
    assert sniff_format(png()) == "png"
    assert sniff_format(jpeg()) == "jpeg"
    assert sniff_format(b"\x00" * 128 + b"DICM" + b"\x02\x00") == "dicom"
    assert sniff_format(gif()) is None
    assert describe_bytes(gif()) == "a GIF image"
    assert describe_bytes(b"PK\x03\x04") == "a ZIP archive (an .xlsx or .zip?)"
    assert describe_bytes(b"hello world") == "none of PNG, JPEG or DICOM"


def test_png_size_from_ihdr() -> None:
    assert png_size(png(300, 280)) == (300, 280)
    assert png_size(png_bomb(100_000, 70_000)) == (100_000, 70_000)
    assert png_size(png()[:20]) is None


def test_jpeg_size_walks_past_exif_segments() -> None:
    data = jpeg(300, 280, artist="A" * 5000, gps=True)
    assert jpeg_size(io.BytesIO(data)) == (300, 280)
    assert jpeg_size(io.BytesIO(jpeg_claiming(data, width=60_000, height=50_000))) == (
        60_000,
        50_000,
    )
    assert jpeg_size(io.BytesIO(jpeg(progressive=True))) is not None
    assert jpeg_size(io.BytesIO(data[:100])) is None
    assert jpeg_size(io.BytesIO(b"\xff\xd8\xff\xda\x00\x02")) is None


@pytest.mark.parametrize(
    ("width", "height", "rule"),
    [
        (256, 256, None),
        (8192, 8192, None),
        (255, 300, "image.too_small"),
        (300, 255, "image.too_small"),
        (8193, 300, "image.too_large"),
        (100, 9000, "image.too_large"),
    ],
)
def test_dimension_limits(width: int, height: int, rule: str | None) -> None:
    findings = check_dimensions("a.png", width=width, height=height)
    assert [f.rule for f in findings] == ([rule] if rule else [])


def test_frames_count_towards_the_pixel_limit() -> None:
    assert check_dimensions("a.dcm", width=4096, height=4096, frames=4) == []
    assert [f.rule for f in check_dimensions("a.dcm", width=4096, height=4096, frames=5)] == [
        "image.too_large"
    ]


def test_unsupported_types_hint_at_the_fix() -> None:
    assert "convert it" in check_supported("scan.tiff")[0].message
    assert "at the root" in check_supported("meta/manifest.csv")[0].message
    assert "must be named 'manifest.csv'" in check_supported("labels.csv")[0].message
    assert "no extension" in check_supported("README")[0].message


def test_type_mismatch_suggests_the_right_name() -> None:
    (finding,) = check_type("a/b.png", expected="png", actual="jpeg", what="a JPEG image")
    assert "rename it to 'a/b.jpg'" in finding.message
    assert check_type("a.png", expected="png", actual="png", what="") == []


def test_decoding_a_complete_image() -> None:
    facts = decode_raster(io.BytesIO(png(300, 280, bits=16)), "png")
    assert (facts.width, facts.height, facts.mode, facts.colour, facts.identifying) == (
        300,
        280,
        "grayscale, 16-bit",
        False,
        [],
    )


@pytest.mark.parametrize(
    ("data", "fmt", "words"),
    [
        (truncated(jpeg()), "jpeg", "truncated"),
        (truncated(png()), "png", "truncated"),
        (png_with_bad_crc(png()), "png", "checksum"),
    ],
)
def test_damaged_images_do_not_decode(data: bytes, fmt: str, words: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_raster(io.BytesIO(data), fmt)  # type: ignore[arg-type]
    assert words in caught.value.reason.lower()
    assert not caught.value.too_large


def test_grey_stored_as_rgb_is_not_colour() -> None:
    assert not decode_raster(io.BytesIO(jpeg(gray_as_rgb=True)), "jpeg").colour
    assert decode_raster(io.BytesIO(jpeg(colour=True)), "jpeg").colour
    assert decode_raster(io.BytesIO(png(colour=True)), "png").colour


def test_colour_in_a_palette_image() -> None:
    grey = Image.fromarray(chest_pixels()).convert("P")
    assert not is_colour(grey)
    tinted = Image.new("P", (256, 256))
    tinted.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    tinted.paste(1, (10, 10, 20, 20))
    assert is_colour(tinted)


def test_colour_in_a_small_region_is_found() -> None:
    pixels = np.stack([chest_pixels(300, 600)] * 3, axis=-1)
    pixels[590:595, 10:20, 0] = 255  # a red marker near the bottom
    pixels[590:595, 10:20, 1:] = 0
    assert is_colour(Image.fromarray(pixels))


def test_identifying_metadata() -> None:
    facts = decode_raster(io.BytesIO(jpeg(artist="Dr. Jane Roe", gps=True)), "jpeg")
    assert facts.identifying == ["EXIF GPS position", "EXIF Artist ('Dr. Jane Roe')"]
    facts = decode_raster(io.BytesIO(png(text={"Author": "J. Roe", "Software": "luna"})), "png")
    assert facts.identifying == ["PNG text 'Author' ('J. Roe')"]
    assert decode_raster(io.BytesIO(png(text={"Software": "x"})), "png").identifying == []


def test_decoded_checks_give_warnings() -> None:
    facts = RasterFacts(
        width=300, height=300, mode="RGB", colour=True, identifying=["EXIF GPS position"]
    )
    findings = check_decoded("a.jpg", facts)
    assert [(f.rule, f.severity) for f in findings] == [
        ("image.not_grayscale", "warning"),
        ("image.metadata", "warning"),
    ]


def _taller_frame(data: bytes, extra_rows: int) -> bytes:
    (height,) = np.frombuffer(data[data.index(b"\xff\xc0") + 5 :][:2], dtype=">u2")
    at = data.index(b"\xff\xc0") + 5
    return data[:at] + int(height + extra_rows).to_bytes(2, "big") + data[at + 2 :]


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda d: _taller_frame(d, 64), "compressed picture data ends early"),
        (lambda d: d[: len(d) // 2] + b"\xff\xd9", "compressed picture data ends early"),
    ],
)
def test_libjpeg_warnings_on_corrupt_data_refuse_a_jpeg(damage, words: str) -> None:  # type: ignore[no-untyped-def]
    """Pillow decodes these without complaint (black or grey rows); djpeg warns; luna refuses."""
    data = damage(jpeg(300, 300, seed=8))
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # what the old decoder accepted
    with pytest.raises(DecodeError) as caught:
        decode_raster(io.BytesIO(data), "jpeg")
    assert words in caught.value.reason


def test_a_jpeg_over_the_memory_budget_is_decoded_scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    import luna.validation.raster as raster

    data = jpeg(640, 512, seed=9, colour=True)
    monkeypatch.setattr(raster, "DECODE_BUDGET_BYTES", 640 * 512)  # a third of the full RGB
    facts = decode_raster(io.BytesIO(data), "jpeg")
    assert (facts.width, facts.height, facts.colour) == (640, 512, True)
    with pytest.raises(DecodeError):
        decode_raster(io.BytesIO(data[: len(data) * 3 // 4]), "jpeg")


def test_a_colour_png_over_the_memory_budget_is_judged_by_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import luna.validation.raster as raster

    monkeypatch.setattr(raster, "DECODE_BUDGET_BYTES", 1000)
    facts = decode_raster(io.BytesIO(png(300, 300, colour=True)), "png")
    assert facts.colour and facts.colour_from_type
    (finding,) = check_decoded("big.png", facts)
    assert "too large to compare its channels" in finding.message
    assert finding.severity == "warning"

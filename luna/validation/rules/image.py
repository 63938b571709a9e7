"""Image rules: supported type, bytes matching the extension, complete decode, size limits,
grayscale and identifying metadata. Plain functions over facts read from the file."""

from __future__ import annotations

from luna.validation.files import extension_of
from luna.validation.raster import RasterFacts
from luna.validation.report import Finding
from luna.validation.ruleset import (
    FORMAT_EXTENSION,
    FORMAT_NAMES,
    MANIFEST_NAME,
    MAX_SIDE_PX,
    MAX_TOTAL_PIXELS,
    MIN_SIDE_PX,
    ImageFormat,
    Rule,
)


def check_supported(filename: str) -> list[Finding]:
    """image.unsupported_type for any file that is neither an image nor the root manifest."""
    ext = extension_of(filename) or "no extension"
    if filename.rsplit("/", 1)[-1].lower() == MANIFEST_NAME:
        hint = f"the manifest must sit at the root of the dataset: upload it as '{MANIFEST_NAME}'"
    elif ext == ".csv":
        hint = f"the manifest must be named '{MANIFEST_NAME}'; remove any other CSV file"
    else:
        hint = "convert it to PNG (8 or 16-bit), JPEG or DICOM, or leave it out of the dataset"
    return [
        Finding.of(
            Rule.IMAGE_UNSUPPORTED_TYPE,
            file=filename,
            message=f"'{ext}' is not a supported image type (.png, .jpg, .jpeg, .dcm); {hint}",
        )
    ]


def check_type(
    filename: str, *, expected: ImageFormat, actual: ImageFormat | None, what: str
) -> list[Finding]:
    """image.type_mismatch: the bytes must be the format the extension says.

    `what` describes the bytes found (see `headers.describe_bytes`).
    """
    if actual == expected:
        return []
    if actual is not None:
        fix = f"rename it to '{_renamed(filename, actual)}' (and its manifest row)"
    elif expected == "dicom":
        fix = "export it as a DICOM Part 10 file (128-byte preamble, then 'DICM')"
    else:
        fix = f"convert it to {FORMAT_NAMES[expected]}, or give it the extension of its real type"
    return [
        Finding.of(
            Rule.IMAGE_TYPE_MISMATCH,
            file=filename,
            message=f"the name says {FORMAT_NAMES[expected]} but the bytes are {what}; {fix}",
        )
    ]


def _renamed(filename: str, fmt: ImageFormat) -> str:
    ext = extension_of(filename)
    stem = filename[: -len(ext)] if ext else filename
    return stem + FORMAT_EXTENSION[fmt]


def corrupt(filename: str, reason: str) -> Finding:
    """image.corrupt, with the decoder's reason."""
    return Finding.of(
        Rule.IMAGE_CORRUPT,
        file=filename,
        message=(
            f"the image does not decode completely: {reason}; export it again from the "
            "original and upload the complete file"
        ),
    )


def empty(filename: str) -> Finding:
    return Finding.of(
        Rule.IMAGE_CORRUPT,
        file=filename,
        message="the file is empty (0 bytes); upload the complete image",
    )


def check_dimensions(filename: str, *, width: int, height: int, frames: int = 1) -> list[Finding]:
    """image.too_small and image.too_large, from the header's dimensions (before decoding)."""
    size = f"{width} x {height} px"
    if width > MAX_SIDE_PX or height > MAX_SIDE_PX:
        return [
            Finding.of(
                Rule.IMAGE_TOO_LARGE,
                file=filename,
                message=(
                    f"the image declares {size}, over the maximum of {MAX_SIDE_PX} px per side; "
                    f"it was not decoded: downscale it to at most {MAX_SIDE_PX} px"
                ),
            )
        ]
    if width * height * frames > MAX_TOTAL_PIXELS:
        return [
            Finding.of(
                Rule.IMAGE_TOO_LARGE,
                file=filename,
                message=(
                    f"the image declares {frames} frames of {size}, more pixels than one "
                    f"{MAX_SIDE_PX} x {MAX_SIDE_PX} image; it was not decoded: upload one frame per file"
                ),
            )
        ]
    if width < MIN_SIDE_PX or height < MIN_SIDE_PX:
        return [
            Finding.of(
                Rule.IMAGE_TOO_SMALL,
                file=filename,
                message=(
                    f"the image is {size}, under the minimum of {MIN_SIDE_PX} px per side; "
                    "upload the original resolution, not a thumbnail"
                ),
            )
        ]
    return []


def too_large_bomb(filename: str, reason: str) -> Finding:
    """image.too_large for a picture the decoder refused as a decompression bomb."""
    return Finding.of(
        Rule.IMAGE_TOO_LARGE,
        file=filename,
        message=f"the image was refused before decoding ({reason}); downscale it to at most {MAX_SIDE_PX} px per side",
    )


def check_decoded(filename: str, facts: RasterFacts) -> list[Finding]:
    """image.not_grayscale and image.metadata, from the decoded picture."""
    findings: list[Finding] = []
    if facts.colour:
        seen = (
            f"the image is stored as {facts.mode}, too large to compare its channels pixel by "
            "pixel within the memory budget"
            if facts.colour_from_type
            else f"the image has colour ({facts.mode}, channels differ)"
        )
        findings.append(
            Finding.of(
                Rule.IMAGE_NOT_GRAYSCALE,
                file=filename,
                message=f"{seen}; X-rays are grayscale: export it as 8 or 16-bit grayscale",
            )
        )
    if facts.identifying:
        findings.append(
            Finding.of(
                Rule.IMAGE_METADATA,
                file=filename,
                message=(
                    f"embedded metadata may identify someone: {', '.join(facts.identifying)}; "
                    "strip the metadata before uploading (e.g. `exiftool -all= FILE`, or "
                    "re-save only the pixels)"
                ),
            )
        )
    return findings

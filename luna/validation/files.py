"""What a filename says a file is: the manifest, an image of some format, or anything else.

kind_of("images/P1.PNG")  -> "image"     expected_format("images/P1.PNG") -> "png"
kind_of("manifest.csv")   -> "manifest"  kind_of("notes/manifest.csv")    -> "other"
"""

from __future__ import annotations

from typing import Literal

from luna.validation.ruleset import IMAGE_EXTENSIONS, MANIFEST_NAME, ImageFormat

FileKind = Literal["image", "manifest", "other"]


def extension_of(filename: str) -> str:
    """The lower-cased extension of the last path segment, with its dot ('' when none)."""
    name = filename.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def expected_format(filename: str) -> ImageFormat | None:
    return IMAGE_EXTENSIONS.get(extension_of(filename))


def is_root_manifest(filename: str) -> bool:
    # Filenames are unique ignoring case, so at most one file can match.
    return filename.lower() == MANIFEST_NAME


def kind_of(filename: str) -> FileKind:
    if is_root_manifest(filename):
        return "manifest"
    if expected_format(filename) is not None:
        return "image"
    return "other"

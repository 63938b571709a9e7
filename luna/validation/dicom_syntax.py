"""DICOM transfer syntaxes: which luna decodes, and with which decoder.

Every compressed syntax luna accepts is decoded by one named plugin, pylibjpeg (with its
libjpeg, openjpeg and rle plugins, all dependencies of luna), never by whichever decoder
happens to be installed: the verdict on a file is the same on every machine.

    decoder_for("1.2.840.10008.1.2.4.80")  -> "pylibjpeg"
    decoder_for("1.2.840.10008.1.2.1")     -> ""            (uncompressed: no plugin)
    decoder_for("1.2.840.10008.1.2.4.100") raises UnsupportedSyntax (MPEG-2 video)
"""

from __future__ import annotations

from typing import Final

from pydicom import uid
from pydicom.pixels import get_decoder

from luna.validation.raster import DecodeError

# Uncompressed: the pixels are the bytes. Deflated compresses the whole data set, not the
# pixels, so its pixel data reads as uncompressed once inflated.
NATIVE: Final = frozenset(
    {
        uid.ImplicitVRLittleEndian,
        uid.ExplicitVRLittleEndian,
        uid.DeflatedExplicitVRLittleEndian,
        uid.ExplicitVRBigEndian,
    }
)
# Compressed syntaxes seen in practice, each decoded by pylibjpeg's plugins.
COMPRESSED: Final = frozenset(
    {
        uid.JPEGBaseline8Bit,
        uid.JPEGExtended12Bit,
        uid.JPEGLossless,
        uid.JPEGLosslessSV1,
        uid.JPEGLSLossless,
        uid.JPEGLSNearLossless,
        uid.JPEG2000Lossless,
        uid.JPEG2000,
        uid.HTJ2KLossless,
        uid.HTJ2KLosslessRPCL,
        uid.HTJ2K,
        uid.RLELossless,
    }
)
# The one plugin pydicom is told to use for the compressed syntaxes.
COMPRESSED_DECODER: Final = "pylibjpeg"
EXPORT_ADVICE: Final = (
    "export it uncompressed (Explicit VR Little Endian), or as RLE Lossless, JPEG, JPEG-LS "
    "or JPEG 2000"
)


class UnsupportedSyntax(DecodeError):
    """The file is well formed, but its transfer syntax is one luna does not decode."""


def syntax_name(transfer_syntax: str) -> str:
    """The syntax's name with its UID, or the bare UID when DICOM does not define it."""
    named = uid.UID(transfer_syntax)
    if not named.is_private and named.is_transfer_syntax:
        return f"{named.name} ({transfer_syntax})"
    return transfer_syntax


def decoder_for(transfer_syntax: str) -> str:
    """The pydicom decoding plugin for the syntax ('' for uncompressed pixels)."""
    if transfer_syntax in NATIVE:
        return ""
    if transfer_syntax in COMPRESSED:
        return COMPRESSED_DECODER
    named = uid.UID(transfer_syntax)
    if named.is_private:
        what = f"the private transfer syntax '{transfer_syntax}'"
    elif not named.is_transfer_syntax:
        what = f"'{transfer_syntax}', which is not a DICOM transfer syntax"
    else:
        what = syntax_name(transfer_syntax)
    raise UnsupportedSyntax(
        f"the pixel data is encoded as {what}, which luna does not decode (video and other "
        f"rare encodings are not accepted); {EXPORT_ADVICE}"
    )


def missing_decoders() -> list[str]:
    """The accepted compressed syntaxes whose decoder is not installed (none, when luna's
    dependencies are): the image build and the tests call this."""
    missing = []
    for syntax in sorted(COMPRESSED):
        decoder = get_decoder(uid.UID(syntax))
        if COMPRESSED_DECODER not in decoder.available_plugins:
            missing.append(syntax_name(syntax))
    return missing


def require_decoders() -> None:
    """Exit naming what is missing: the image build runs this after installing luna."""
    lacking = missing_decoders()
    if lacking:
        raise SystemExit("no decoder for: " + ", ".join(lacking))
    print(f"{len(COMPRESSED)} compressed transfer syntaxes decode with {COMPRESSED_DECODER}")

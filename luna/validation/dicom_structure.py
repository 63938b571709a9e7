"""Walking a DICOM file's elements from its first byte to its last, without decoding them.

pydicom reads what it can and stops quietly at a cut: a file truncated inside its pixel
data, a sequence or its trailing padding can parse "fine" with the rest missing. This walk
checks that every element, item and fragment ends inside the file (inside the inflated data
set for Deflated files), that every undefined length is closed by its delimiter and that
nothing but whole elements follows the meta information. It reads headers and seeks past
values, so it costs a few reads per element, whatever the file's size.

    facts = walk_dicom(fp)    # StructureFacts, or raises DecodeError saying where it broke
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import IO, Final

from pydicom.datadict import keyword_for_tag

from luna.validation.raster import DecodeError

_PREAMBLE_BYTES: Final = 132  # 128-byte preamble and "DICM"
_UNDEFINED: Final = 0xFFFFFFFF
_ITEM: Final = 0xFFFEE000
_ITEM_END: Final = 0xFFFEE00D
_SEQUENCE_END: Final = 0xFFFEE0DD
_PIXEL_DATA: Final = 0x7FE00010
_TRANSFER_SYNTAX: Final = 0x00020010
_IMPLICIT_LE: Final = "1.2.840.10008.1.2"
_EXPLICIT_BE: Final = "1.2.840.10008.1.2.2"
_DEFLATED: Final = "1.2.840.10008.1.2.1.99"
# Explicit VRs whose length takes four bytes after two reserved ones (PS3.5 7.1.2).
_LONG_VRS: Final = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_INFLATE_CHUNK_BYTES: Final = 1024 * 1024
# Nesting deeper than this is not a real file but a crafted one: refuse rather than recurse.
_MAX_DEPTH: Final = 64


@dataclass(frozen=True)
class StructureFacts:
    transfer_syntax: str
    # Encapsulated pixel data: the number of fragments after the basic offset table.
    fragments: int | None


@dataclass(frozen=True)
class _Encoding:
    implicit: bool
    little: bool


class _Walk:
    def __init__(self, data: IO[bytes], end: int, where: str) -> None:
        self.data = data
        self.end = end
        self.where = where  # "the file" or "the inflated data set"
        self.fragments: int | None = None

    def read(self, size: int, what: str) -> bytes:
        chunk = self.data.read(size)
        if len(chunk) < size:
            raise DecodeError(f"{self.where} ends inside {what}: the file is truncated")
        return chunk

    def skip(self, length: int, what: str) -> None:
        here = self.data.tell()
        if here + length > self.end:
            missing = here + length - self.end
            raise DecodeError(
                f"{self.where} ends {missing} bytes before the end of {what} (of {length} "
                "bytes): the file is truncated"
            )
        self.data.seek(here + length)

    def header(self, enc: _Encoding, context: str) -> tuple[int, bytes | None, int]:
        """(tag, VR or None, length) of the next element or item."""
        order = "<" if enc.little else ">"
        raw = self.read(4, f"an element header {context}")
        group, element = struct.unpack(order + "HH", raw)
        tag = group << 16 | element
        if tag in (_ITEM, _ITEM_END, _SEQUENCE_END) or enc.implicit:
            (length,) = struct.unpack(order + "I", self.read(4, f"{_name(tag)} {context}"))
            return tag, None, length
        vr = self.read(2, f"{_name(tag)} {context}")
        if vr in _LONG_VRS:
            (length,) = struct.unpack(order + "I", self.read(6, f"{_name(tag)} {context}")[2:])
        else:
            (length,) = struct.unpack(order + "H", self.read(2, f"{_name(tag)} {context}"))
        return tag, vr, length

    def elements(self, enc: _Encoding, *, until: int | None, context: str, depth: int) -> None:
        """Elements to the end of the data, or to the delimiter `until` (undefined length)."""
        while True:
            if until is None and self.data.tell() >= self.end:
                return
            tag, vr, length = self.header(enc, context)
            if until is not None and tag == until:
                return
            if tag in (_ITEM, _ITEM_END, _SEQUENCE_END):
                raise DecodeError(
                    f"{self.where} has a stray item delimiter {context}: the file is damaged"
                )
            what = f"{_name(tag)} {context}".strip()
            if length != _UNDEFINED:
                self.skip(length, what)
                continue
            if depth >= _MAX_DEPTH:
                raise DecodeError(f"{self.where} nests sequences too deeply at {what}")
            # An undefined-length UN holds implicit VR little endian (PS3.5 6.2.2).
            inner = _Encoding(True, True) if vr == b"UN" else enc
            self.items(inner, tag=tag, what=what, depth=depth + 1)

    def items(self, enc: _Encoding, *, tag: int, what: str, depth: int) -> None:
        """The items of an undefined-length sequence or of encapsulated pixel data."""
        count = 0
        while True:
            item, _vr, length = self.header(enc, f"in {what}")
            if item == _SEQUENCE_END:
                break
            if item != _ITEM:
                raise DecodeError(
                    f"{self.where} has {_name(item)} where {what} expects an item or its end: "
                    "the file is damaged"
                )
            count += 1
            if length != _UNDEFINED:
                self.skip(length, f"item {count} of {what}")
            elif tag == _PIXEL_DATA and depth == 1:
                raise DecodeError(f"a fragment of {what} has no length: the file is damaged")
            else:
                self.elements(
                    enc, until=_ITEM_END, context=f"in item {count} of {what}", depth=depth
                )
        if tag == _PIXEL_DATA and depth == 1:
            self.fragments = max(count - 1, 0)  # the first item is the basic offset table
            if self.fragments == 0:
                raise DecodeError(f"{what} holds no compressed frame, only its offset table")


def walk_dicom(fp: IO[bytes]) -> StructureFacts:
    """Walk the whole file; raise DecodeError naming where it is cut or damaged."""
    file_end = fp.seek(0, 2)
    fp.seek(_PREAMBLE_BYTES)
    walk = _Walk(fp, file_end, "the file")
    syntax = _walk_meta(walk)
    if syntax == _DEFLATED:
        inflated = _inflate(fp, file_end)
        walk = _Walk(inflated, len(inflated.getbuffer()), "the inflated data set")
    enc = _Encoding(implicit=syntax == _IMPLICIT_LE, little=syntax != _EXPLICIT_BE)
    walk.elements(enc, until=None, context="", depth=0)
    return StructureFacts(transfer_syntax=syntax, fragments=walk.fragments)


def _walk_meta(walk: _Walk) -> str:
    """The file meta information (group 0002, explicit VR little endian): its transfer syntax."""
    syntax = ""
    enc = _Encoding(implicit=False, little=True)
    while True:
        start = walk.data.tell()
        if start + 4 > walk.end:
            break
        (group,) = struct.unpack("<H", walk.data.read(2))
        walk.data.seek(start)
        if group != 0x0002:
            break
        tag, _vr, length = walk.header(enc, "in the file meta information")
        if length == _UNDEFINED:
            raise DecodeError(f"{_name(tag)} in the file meta information has no length")
        value_at = walk.data.tell()
        walk.skip(length, f"{_name(tag)} in the file meta information")
        if tag == _TRANSFER_SYNTAX:
            walk.data.seek(value_at)
            syntax = walk.data.read(length).decode("ascii", "replace").strip("\x00 ")
    if not syntax:
        raise DecodeError("the file meta information has no TransferSyntaxUID")
    return syntax


def _inflate(fp: IO[bytes], file_end: int) -> io.BytesIO:
    """The deflated data set, inflated; its deflate stream must end where the file does."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = io.BytesIO()
    try:
        while chunk := fp.read(_INFLATE_CHUNK_BYTES):
            out.write(inflater.decompress(chunk))
        out.write(inflater.flush())
    except zlib.error as exc:
        raise DecodeError("the deflated data set is damaged: it does not inflate") from exc
    if not inflater.eof:
        raise DecodeError("the deflated data set ends early: the file is truncated")
    # Bytes after the stream's end are outside the data set: DCMTK and pydicom ignore them
    # (some writers leave gzip's CRC and length there).
    out.seek(0)
    return out


def _name(tag: int) -> str:
    keyword = keyword_for_tag(tag) if tag not in (_ITEM, _ITEM_END, _SEQUENCE_END) else ""
    text = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{keyword} {text}" if keyword else text

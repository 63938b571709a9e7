"""A PNG's integrity, checked as its bytes arrive, in constant memory.

The chunk walk checks what the PNG specification requires and the reference checker
(`pngcheck`) refuses: the signature, every chunk's CRC (IEND's too), IHDR first and once with
valid fields, no unknown critical chunk, PLTE rules, consecutive IDAT chunks, nothing after
IEND. The image data is inflated as it streams, a bounded piece at a time, and must hold
exactly the bytes IHDR implies (rows of every interlace pass, each with a valid filter type):
a decoder that pads missing rows with black would accept what this refuses. Nothing is held
but the current chunk header and small ancillary chunks, so a huge PNG costs no more memory
than a small one.

    walk = PngStream()
    for chunk in chunks: walk.feed(chunk)
    facts = walk.finish()          # PngFacts, or raises PngDamaged with the reason
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Final

SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_KNOWN_CRITICAL: Final = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
# Allowed bit depths for each colour type (PNG spec, table 11.1) and samples per pixel.
_BIT_DEPTHS: Final = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_SAMPLES: Final = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
COLOUR_TYPE_NAMES: Final = {
    0: "grayscale",
    2: "RGB colour",
    3: "palette",
    4: "grayscale with alpha",
    6: "RGB colour with alpha",
}
# Adam7: (x start, y start, x step, y step) of the seven passes.
_ADAM7: Final = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
_ADAM7_LAST: Final = (0, 1, 1, 2)
_MAX_FILTER_TYPE: Final = 4
_MAX_CHUNK_LENGTH: Final = 2**31 - 1
# Inflate at most this much at a time: the memory a PNG of any size costs.
INFLATE_PIECE_BYTES: Final = 1024 * 1024
# Ancillary chunks up to this size are kept for the metadata checks (text, EXIF); larger ones
# are only checksummed.
KEEP_CHUNK_BYTES: Final = 1024 * 1024
_TEXT_CHUNKS: Final = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf"})


class PngDamaged(Exception):
    """The bytes are not a complete, valid PNG; `reason` says what is wrong, in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class PngFacts:
    """What the walk learnt: the header's fields and the metadata chunks kept."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    # Text chunks as (chunk type, raw data), and the raw eXIf chunk, for the metadata checks.
    text_chunks: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def colour_name(self) -> str:
        return COLOUR_TYPE_NAMES[self.colour_type]


def raw_size_bytes(width: int, height: int, *, bits_per_pixel: int, interlaced: bool) -> int:
    """How many bytes the inflated image data holds: each row's filter byte plus its pixels."""
    return sum(
        rows * row_bytes
        for rows, row_bytes in _row_layout(width, height, bits_per_pixel, interlaced)
    )


def _row_layout(
    width: int, height: int, bits_per_pixel: int, interlaced: bool
) -> list[tuple[int, int]]:
    """(rows, bytes per row including the filter byte) of each non-empty pass, in order."""
    passes = [*_ADAM7, _ADAM7_LAST] if interlaced else [(0, 0, 1, 1)]
    layout = []
    for x0, y0, dx, dy in passes:
        cols = (width - x0 + dx - 1) // dx if width > x0 else 0
        rows = (height - y0 + dy - 1) // dy if height > y0 else 0
        if cols and rows:
            layout.append((rows, 1 + (cols * bits_per_pixel + 7) // 8))
    return layout


class PngStream:
    """Feed a PNG's bytes in order, any chunking; `finish` gives the verdict once."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._offset = 0  # file offset of self._pending[0]
        self._problem: str | None = None
        self._signature_seen = False
        self._facts: PngFacts | None = None
        self._chunks_seen: set[bytes] = set()
        self._last_chunk = b""
        self._iend_at: int | None = None
        # The chunk being read: type, length, bytes still to come, running CRC, kept data.
        self._chunk: bytes | None = None
        self._chunk_at = 0
        self._chunk_left = 0
        self._chunk_crc = 0
        self._chunk_keep: bytearray | None = None
        # The image data.
        self._idat_done = False
        self._inflater = zlib.decompressobj()
        self._layout: list[tuple[int, int]] = []
        self._expected_raw = 0
        self._raw = 0
        # The next row's filter byte: its offset in the inflated data, its pass, rows left.
        self._row_at = 0
        self._row_pass = 0
        self._rows_left = 0
        self._idat_problem: str | None = None

    @property
    def header(self) -> PngFacts | None:
        """IHDR's fields once a valid IHDR chunk was read, else None."""
        return self._facts

    # --- feeding ------------------------------------------------------------------------

    def feed(self, data: bytes | memoryview) -> None:
        if self._problem is not None:
            return  # the first problem is the verdict; the rest is only hashed by the caller
        try:
            self._feed(data)
        except PngDamaged as exc:
            self._problem = exc.reason
            self._pending.clear()

    def _feed(self, data: bytes | memoryview) -> None:
        if self._iend_at is not None:
            if len(data):
                raise PngDamaged(
                    f"there is data after the IEND chunk that ends the PNG (from byte "
                    f"{self._iend_at}); the file was joined to something else or padded"
                )
            return
        view = memoryview(data)
        while len(view):
            if self._chunk is not None and self._chunk_left > 0 and not self._pending:
                view = self._chunk_data(view)  # the common case: stream straight through
                continue
            self._pending += view
            view = memoryview(b"")
            self._parse_pending()

    def _parse_pending(self) -> None:
        while True:
            if not self._signature_seen:
                if len(self._pending) < len(SIGNATURE):
                    if not SIGNATURE.startswith(bytes(self._pending)):
                        raise PngDamaged("the file does not start with the PNG signature")
                    return
                if self._pending[:8] != SIGNATURE:
                    raise PngDamaged(
                        "the PNG signature is damaged (often a transfer in text mode that "
                        "changed line endings)"
                    )
                self._consume(8)
                self._signature_seen = True
            elif self._chunk is None:
                if len(self._pending) < 8:
                    return
                self._start_chunk(bytes(self._pending[:8]))
                self._consume(8)
            elif self._chunk_left > 0:
                if not self._pending:
                    return
                rest = self._chunk_data(memoryview(bytes(self._pending)))
                self._pending = bytearray(rest)
                if self._chunk_left > 0:
                    return
            else:
                if len(self._pending) < 4:
                    return
                self._end_chunk(bytes(self._pending[:4]))
                self._consume(4)
                if self._iend_at is not None:
                    if self._pending:
                        raise PngDamaged(
                            f"there is data after the IEND chunk that ends the PNG (from byte "
                            f"{self._iend_at}); the file was joined to something else or padded"
                        )
                    return

    def _consume(self, n: int) -> None:
        del self._pending[:n]
        self._offset += n

    # --- chunks -------------------------------------------------------------------------

    def _start_chunk(self, head: bytes) -> None:
        length, kind = struct.unpack(">I4s", head)
        at = self._offset
        name = kind.decode("latin-1")
        if not all(65 <= c <= 90 or 97 <= c <= 122 for c in kind):
            raise PngDamaged(
                f"the chunk at byte {at} has an invalid type (bytes {kind.hex(' ')}, not four "
                "letters): the chunk structure is damaged from there on"
            )
        if length > _MAX_CHUNK_LENGTH:
            raise PngDamaged(f"chunk {name} at byte {at} declares an impossible length ({length})")
        facts = self._facts
        if facts is None and kind != b"IHDR":
            raise PngDamaged(f"the first chunk is {name}, not IHDR (the PNG header)")
        if kind == b"IHDR" and facts is not None:
            raise PngDamaged(f"a second IHDR chunk at byte {at}; a PNG has exactly one header")
        if kind[0] & 0x20 == 0 and kind not in _KNOWN_CRITICAL:
            raise PngDamaged(
                f"unknown critical chunk {name} at byte {at}: no decoder can display the image "
                "correctly without understanding it"
            )
        if kind[2] & 0x20:
            raise PngDamaged(f"chunk {name} at byte {at} has the reserved bit set in its type")
        if kind == b"IDAT":
            if self._idat_done:
                raise PngDamaged(
                    f"IDAT chunk at byte {at} after other chunks followed the image data; the "
                    "image data must be consecutive"
                )
        elif self._last_chunk == b"IDAT":
            self._idat_done = True
        if kind == b"PLTE":
            self._check_plte_position(at, length)
        self._chunk, self._chunk_at, self._chunk_left = kind, at, length
        self._chunk_crc = zlib.crc32(kind)
        keep = kind in (b"IHDR", b"PLTE", b"IEND") or (
            kind in _TEXT_CHUNKS and length <= KEEP_CHUNK_BYTES
        )
        self._chunk_keep = bytearray() if keep else None

    def _chunk_data(self, view: memoryview) -> memoryview:
        take = view[: self._chunk_left]
        self._chunk_left -= len(take)
        self._offset += len(take)
        self._chunk_crc = zlib.crc32(take, self._chunk_crc)
        if self._chunk == b"IDAT":
            self._inflate(take)
        elif self._chunk_keep is not None:
            self._chunk_keep += take
        return view[len(take) :]

    def _end_chunk(self, crc_bytes: bytes) -> None:
        kind, at = self._chunk, self._chunk_at
        assert kind is not None
        name = kind.decode("latin-1")
        (crc,) = struct.unpack(">I", crc_bytes)
        if crc != self._chunk_crc:
            raise PngDamaged(
                f"chunk {name} at byte {at} fails its checksum (CRC): its bytes were changed "
                "after it was written"
            )
        if self._idat_problem is not None:
            raise PngDamaged(self._idat_problem)
        data = bytes(self._chunk_keep) if self._chunk_keep is not None else b""
        if kind == b"IHDR":
            self._read_ihdr(data)
        elif kind == b"PLTE":
            self._read_plte(data)
        elif kind == b"IEND":
            self._read_iend(at, data)
        elif kind in _TEXT_CHUNKS and self._chunk_keep is not None and self._facts is not None:
            self._facts.text_chunks.append((kind, data))
        self._chunks_seen.add(kind)
        self._last_chunk = kind
        self._chunk = None
        self._chunk_keep = None

    def _read_ihdr(self, data: bytes) -> None:
        if len(data) != 13:
            raise PngDamaged(f"the IHDR chunk is {len(data)} bytes long instead of 13")
        width, height, depth, colour, compression, filtering, interlace = struct.unpack(
            ">IIBBBBB", data
        )
        if not 0 < width <= _MAX_CHUNK_LENGTH or not 0 < height <= _MAX_CHUNK_LENGTH:
            raise PngDamaged(f"the header declares an impossible size of {width} x {height} px")
        if colour not in _BIT_DEPTHS:
            raise PngDamaged(f"the header declares an unknown colour type ({colour})")
        if depth not in _BIT_DEPTHS[colour]:
            raise PngDamaged(
                f"the header declares bit depth {depth}, which the {COLOUR_TYPE_NAMES[colour]} "
                f"colour type does not allow (only {', '.join(map(str, _BIT_DEPTHS[colour]))})"
            )
        if compression != 0:
            raise PngDamaged(
                f"the header declares compression method {compression}; PNG defines only 0 "
                "(deflate)"
            )
        if filtering != 0:
            raise PngDamaged(f"the header declares filter method {filtering}; PNG defines only 0")
        if interlace not in (0, 1):
            raise PngDamaged(
                f"the header declares interlace method {interlace}; PNG defines 0 and 1"
            )
        self._facts = PngFacts(
            width=width,
            height=height,
            bit_depth=depth,
            colour_type=colour,
            interlaced=interlace == 1,
        )
        bits_per_pixel = depth * _SAMPLES[colour]
        self._layout = _row_layout(width, height, bits_per_pixel, interlace == 1)
        self._expected_raw = sum(rows * row_bytes for rows, row_bytes in self._layout)
        self._rows_left = self._layout[0][0]

    def _check_plte_position(self, at: int, length: int) -> None:
        assert self._facts is not None
        if b"PLTE" in self._chunks_seen:
            raise PngDamaged(f"a second PLTE chunk at byte {at}; a PNG has at most one palette")
        if b"IDAT" in self._chunks_seen:
            raise PngDamaged(f"the PLTE chunk at byte {at} comes after the image data")
        if self._facts.colour_type in (0, 4):
            raise PngDamaged(
                f"a PLTE chunk at byte {at} in a {self._facts.colour_name} image, which must not "
                "have a palette"
            )
        if length == 0 or length % 3 or length > 256 * 3:
            raise PngDamaged(
                f"the PLTE chunk is {length} bytes long; a palette holds 1 to 256 entries of "
                "3 bytes"
            )

    def _read_plte(self, data: bytes) -> None:
        assert self._facts is not None
        facts = self._facts
        if facts.colour_type == 3 and len(data) // 3 > 1 << facts.bit_depth:
            raise PngDamaged(
                f"the palette has {len(data) // 3} entries, more than a {facts.bit_depth}-bit "
                "index can address"
            )

    def _read_iend(self, at: int, data: bytes) -> None:
        if data:
            raise PngDamaged(f"the IEND chunk at byte {at} is not empty")
        self._iend_at = self._offset + 4

    # --- image data ---------------------------------------------------------------------

    def _inflate(self, data: memoryview) -> None:
        """Inflate as the IDAT bytes arrive; a problem waits for the chunk's CRC, which
        names the damage better when it fails too."""
        if self._idat_problem is not None:
            return
        try:
            self._inflate_piece(data)
        except PngDamaged as exc:
            self._idat_problem = exc.reason

    def _inflate_piece(self, data: memoryview) -> None:
        if self._inflater.eof:
            if len(data):
                self._extra_compressed_data()
            return
        try:
            piece = self._inflater.decompress(data, INFLATE_PIECE_BYTES)
            self._count_raw(piece)
            while self._inflater.unconsumed_tail and not self._inflater.eof:
                tail = self._inflater.unconsumed_tail
                self._count_raw(self._inflater.decompress(tail, INFLATE_PIECE_BYTES))
        except zlib.error as exc:
            raise PngDamaged(
                f"the compressed image data is damaged (after {self._raw} of "
                f"{self._expected_raw} bytes, deflate reports: {_zlib_words(exc)})"
            ) from exc
        if self._inflater.eof and self._inflater.unused_data:
            self._extra_compressed_data()

    def _extra_compressed_data(self) -> None:
        raise PngDamaged(
            "the image data continues after its compressed stream ended; the IDAT chunks are "
            "damaged"
        )

    def _count_raw(self, piece: bytes) -> None:
        if not piece:
            return
        start = self._raw
        self._raw += len(piece)
        if self._raw > self._expected_raw:
            raise PngDamaged(
                f"the image data holds more than the {self._expected_raw} bytes the header's "
                "size implies; the IDAT chunks are damaged"
            )
        self._check_filter_bytes(piece, start)

    def _check_filter_bytes(self, piece: bytes, start: int) -> None:
        """Every row starts with a filter type 0..4; anything else is damaged data. Visits one
        byte per row, so a piece costs its rows, not its bytes."""
        end = start + len(piece)
        layout = self._layout
        while self._row_pass < len(layout) and self._row_at < end:
            rows, row_bytes = layout[self._row_pass]
            value = piece[self._row_at - start]
            if value > _MAX_FILTER_TYPE:
                row = rows - self._rows_left + 1
                where = f" of pass {self._row_pass + 1}" if len(layout) > 1 else ""
                raise PngDamaged(
                    f"row {row}{where} of the image data has an invalid filter type ({value}); "
                    "the compressed data is damaged"
                )
            self._row_at += row_bytes
            self._rows_left -= 1
            if self._rows_left == 0:
                self._row_pass += 1
                if self._row_pass < len(layout):
                    self._rows_left = layout[self._row_pass][0]

    # --- the verdict --------------------------------------------------------------------

    def finish(self) -> PngFacts:
        if self._problem is not None:
            raise PngDamaged(self._problem)
        if not self._signature_seen:
            raise PngDamaged("the file ends inside the PNG signature")
        if self._iend_at is None:
            raise PngDamaged(self._truncation())
        facts = self._facts
        assert facts is not None
        if b"IDAT" not in self._chunks_seen:
            raise PngDamaged("the PNG has no image data (no IDAT chunk)")
        if facts.colour_type == 3 and b"PLTE" not in self._chunks_seen:
            raise PngDamaged("the palette image has no palette (no PLTE chunk)")
        if not self._inflater.eof:
            raise PngDamaged(
                f"the compressed image data stops early: it holds {self._raw} of the "
                f"{self._expected_raw} bytes the header implies, so rows are missing"
            )
        if self._raw < self._expected_raw:
            raise PngDamaged(
                f"the image data holds {self._raw} bytes where the header's size implies "
                f"{self._expected_raw}: rows are missing"
            )
        return facts

    def _truncation(self) -> str:
        if self._chunk == b"IEND":
            return "the file ends inside the IEND chunk that closes a PNG: it is truncated"
        where = f" inside chunk {self._chunk.decode('latin-1')}" if self._chunk else ""
        return (
            f"the file ends{where} after {self._offset + len(self._pending)} bytes, before the "
            "IEND chunk that closes a PNG: it is truncated"
        )


def _zlib_words(exc: zlib.error) -> str:
    """zlib's own words for the damage ("invalid distance too far back"), without the
    Python wrapper's error number."""
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def check_png(data: bytes) -> PngFacts:
    """The verdict on a whole PNG held in memory (tests, tools)."""
    walk = PngStream()
    walk.feed(data)
    return walk.finish()

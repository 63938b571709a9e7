"""Scan headers of sequential JPEG frames inside DICOM files.

Some encoders write a sequential (baseline or extended) frame whose start-of-scan header
gives a spectral range other than 0..63, which only progressive JPEG uses. ITU T.81 fixes
the range for sequential frames, so DCMTK's and GDCM's decoders ignore it; libjpeg refuses
the frame. `with_sequential_scan_range` writes the fixed range back, leaving all else as is.

    with_sequential_scan_range(frame) -> the frame, its scan headers' ranges set to 0..63
"""

from __future__ import annotations

from typing import Final

_SOI: Final = 0xD8
_SOS: Final = 0xDA
_EOI: Final = 0xD9
_SEQUENTIAL_SOF: Final = frozenset({0xC0, 0xC1})
_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})


def with_sequential_scan_range(frame: bytes) -> bytes:
    """The frame with Ss=0, Se=63, Ah=Al=0 in every scan header, when its frame header is
    sequential DCT; otherwise (or when it cannot be walked) the frame unchanged."""
    if len(frame) < 4 or frame[0] != 0xFF or frame[1] != _SOI:
        return frame
    out = bytearray(frame)
    sequential = False
    pos = 2
    while pos + 4 <= len(out):
        if out[pos] != 0xFF:
            return frame
        marker = out[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == _EOI:
            break
        length = int.from_bytes(out[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(out):
            return frame
        if marker in _SEQUENTIAL_SOF:
            sequential = True
        if marker == _SOS:
            if not sequential:
                return frame
            components = out[pos + 4] if pos + 4 < end else 0
            spectral = pos + 5 + 2 * components
            if spectral + 3 > end:
                return frame
            out[spectral : spectral + 3] = b"\x00\x3f\x00"
            pos = _after_entropy_data(out, end)
            continue
        pos = end
    return bytes(out)


def _after_entropy_data(data: bytearray, pos: int) -> int:
    """The offset of the first marker after entropy-coded data (stuffed 0xFF00 and restart
    markers belong to the data)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        follower = data[pos + 1]
        if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:
            pos += 1 if follower == 0xFF else 2
            continue
        return pos

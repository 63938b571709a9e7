"""Throughput of FileInspector against the plain decode it wraps.

For the same synthetic chest X-rays (2048 x 2048: PNG 8 and 16-bit, JPEG baseline and
progressive, DICOM DX 16-bit uncompressed, JPEG 2000 Lossless and RLE Lossless), time
  baseline: hashlib.sha256(data) + a bare decode with the library luna uses for the format:
            Pillow open+load (PNG), simplejpeg decode (JPEG: libjpeg-turbo, as luna), pydicom
            dcmread+pixel_array (DICOM; compressed ones with pylibjpeg's plugins, as luna)
  luna:     FileInspector(declared).feed(1 MiB chunks) + finish()  (hash, sniff, spool,
            header limits, PNG chunk walk and streamed inflate, strict JPEG decode, colour and
            metadata checks)
Median of several runs; MB/s over the files' bytes, images/s, and luna/baseline.

Run: python bench/throughput.py [side_px] [runs]      (goal: luna >= 85% of baseline)
"""

from __future__ import annotations

import hashlib
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pydicom
import simplejpeg
from PIL import Image
from pydicom.uid import JPEG2000Lossless, RLELossless

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories import dicom, jpeg, png

from luna.validation import DeclaredFile, FileInspector

MiB = 1024 * 1024


def images(side_px: int) -> dict[str, bytes]:
    return {
        "a.png": png(side_px, side_px, seed=1),
        "b.png": png(side_px, side_px, seed=2, bits=16),
        "c.jpg": jpeg(side_px, side_px, seed=3),
        "d.jpg": jpeg(side_px, side_px, seed=4, progressive=True),
        "e.dcm": dicom(side_px, side_px, seed=5),
        "f.dcm": dicom(side_px, side_px, seed=6, modality="CR", photometric="MONOCHROME1"),
        "g_j2k.dcm": dicom(side_px, side_px, seed=7, transfer_syntax=JPEG2000Lossless),
        "h_rle.dcm": dicom(side_px, side_px, seed=8, transfer_syntax=RLELossless),
    }


def baseline(name: str, data: bytes) -> None:
    hashlib.sha256(data).hexdigest()
    if name.endswith(".dcm"):
        ds = pydicom.dcmread(io.BytesIO(data))
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.pixel_array_options(decoding_plugin="pylibjpeg")
        pixels = ds.pixel_array
        del pixels
    elif name.endswith(".jpg"):
        gray = simplejpeg.decode_jpeg_header(data)[2] == "Gray"
        simplejpeg.decode_jpeg(data, colorspace="GRAY" if gray else "RGB")
    else:
        with Image.open(io.BytesIO(data)) as im:
            im.load()


def luna(name: str, data: bytes) -> None:
    declared = DeclaredFile(file_id=1, filename=name, content_type="", size_bytes=len(data))
    inspector = FileInspector(declared)
    view = memoryview(data)
    for start in range(0, len(data), MiB):
        inspector.feed(view[start : start + MiB])
    report = inspector.finish()
    assert not report.findings, report.findings


def timed(fn: Callable[[str, bytes], None], files: dict[str, bytes]) -> float:
    started = time.perf_counter()
    for name, data in files.items():
        fn(name, data)
    return time.perf_counter() - started


def main() -> None:
    side_px = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    files = images(side_px)
    total_mb = sum(len(d) for d in files.values()) / 1e6
    print(
        f"{len(files)} images of {side_px} x {side_px} px, {total_mb:.1f} MB in all; median of {runs} runs"
    )
    for name, data in files.items():
        print(f"  {name}: {len(data) / 1e6:.1f} MB")
    timed(baseline, files), timed(luna, files)  # warm caches and imports
    base_s, luna_s = [], []
    for _ in range(runs):  # interleaved, so machine noise hits both alike
        base_s.append(timed(baseline, files))
        luna_s.append(timed(luna, files))
    for label, seconds in (
        ("baseline", statistics.median(base_s)),
        ("luna", statistics.median(luna_s)),
    ):
        print(
            f"{label:>9}: {seconds * 1000:7.1f} ms  {total_mb / seconds:7.1f} MB/s  {len(files) / seconds:6.1f} images/s"
        )
    ratio = statistics.median(base_s) / statistics.median(luna_s)
    print(
        f"luna / baseline throughput: {ratio:.0%}  (goal >= 85%: {'ok' if ratio >= 0.85 else 'MISSED'})"
    )
    per_format(files, runs)


def per_format(files: dict[str, bytes], runs: int) -> None:
    print("per file (median ms, baseline -> luna):")
    for name, data in files.items():
        one = {name: data}
        b = statistics.median(timed(baseline, one) for _ in range(runs))
        n = statistics.median(timed(luna, one) for _ in range(runs))
        print(f"  {name}: {b * 1000:6.1f} -> {n * 1000:6.1f}  ({b / n:.0%})")


if __name__ == "__main__":
    main()

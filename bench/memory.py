"""Peak memory while 1 GiB streams through one FileInspector, in the validator's 1 MiB chunks.

Two realistic 1 GiB uploads that must be rejected without being decoded whole:
  png: a PNG whose header claims 65,536 x 16,384 px, followed by 1 GiB of IDAT data. The
       header breaks the size limit, so the rest is only hashed: nothing is held.
  dcm: a DICOM whose header claims one 8192 x 8192 16-bit frame (128 MiB) but whose pixel
       data element is ~1 GiB. The file is spooled to disk, its header read from there, and
       the pixel length refused before the pixel data is read.

Then (bench/memory_processes.py) the RSS growth of `luna serve` and of `luna worker` while
each validates the inputs that once amplified memory: a 1,000,000-row manifest, a 30 MB
single-line manifest and an 8192 x 8192 RGBA 16-bit PNG. That part needs the machine's
PostgreSQL and RabbitMQ (as bench/liveness.py); `--files-only` skips it.

Run: python bench/memory.py [gib] [--files-only]   (goal: RSS growth under 64 MiB for each)
"""

from __future__ import annotations

import asyncio
import io
import os
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from luna.validation import DeclaredFile, FileInspector

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = MiB


def rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def png_stream(total_bytes: int, filler: bytes) -> Iterator[bytes]:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    head = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", 65_536, 16_384, 8, 0, 0, 0, 0)
    )
    yield head
    sent = len(head)
    # IDAT chunks of the filler, as an encoder would write them, until the total is reached.
    idat = chunk(b"IDAT", filler[: CHUNK - 12])
    while sent + len(idat) <= total_bytes:
        yield idat
        sent += len(idat)
    yield chunk(b"IEND", b"")


def dicom_stream(total_bytes: int, filler: bytes) -> Iterator[bytes]:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, "1.2.3.4"
    ds.Modality, ds.PatientID, ds.PatientName = "DX", "", ""
    ds.Rows = ds.Columns = 8192
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    header = buffer.getvalue()
    pixel_bytes = (total_bytes - len(header) - 12) & ~1
    yield header + b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", pixel_bytes)
    while pixel_bytes > 0:
        piece = filler[: min(CHUNK, pixel_bytes)]
        yield piece
        pixel_bytes -= len(piece)


def run(name: str, stream: Iterator[bytes], spool_dir: str) -> None:
    declared = DeclaredFile(
        file_id=1, filename=name, content_type="application/octet-stream", size_bytes=0
    )
    before = rss_kib("VmRSS")
    exact = reset_peak()
    started = time.perf_counter()
    inspector = FileInspector(declared, spool_dir=spool_dir)
    size = 0
    for chunk in stream:
        inspector.feed(chunk)
        size += len(chunk)
    fed = time.perf_counter()
    report = inspector.finish()
    done = time.perf_counter()
    growth_mib = (rss_kib("VmHWM") - before) / 1024
    rules = sorted({f.rule for f in report.findings} - {"upload.size_mismatch"})
    print(
        f"{name}: {size / GiB:.2f} GiB in {done - started:.1f} s ({size / MiB / (done - started):.0f} MiB/s; finish {done - fed:.2f} s)"
    )
    print(
        f"  peak RSS growth: {growth_mib:.1f} MiB{'' if exact else ' (peak not resettable: upper bound)'}  goal < 64 MiB: {'ok' if growth_mib < 64 else 'MISSED'}"
    )
    print(f"  findings: {rules}")
    for finding in report.findings:
        if finding.rule != "upload.size_mismatch":
            print(f"    {finding.message}")


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    total = int(float(args[0]) * GiB) if args else GiB
    filler = os.urandom(CHUNK)  # incompressible, like real pixel data
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as spool_dir:
        print(
            f"streaming {total / GiB:.2f} GiB per file in {CHUNK // MiB} MiB chunks; spool dir {spool_dir}"
        )
        run("huge.png", png_stream(total, filler), spool_dir)
        run("huge.dcm", dicom_stream(total, filler), spool_dir)
    if "--files-only" in sys.argv:
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import memory_processes

    return asyncio.run(memory_processes.main())


if __name__ == "__main__":
    sys.exit(main())

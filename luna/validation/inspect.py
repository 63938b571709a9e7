"""One file's streaming inspection: hash, size, sniffing and decoding as the bytes arrive.

The bytes come once, in order. The SHA-256 and size are computed on the way; the format is
sniffed from the first bytes, never the name. A PNG's chunks and image data are checked as
they stream (`png_stream`); it is spooled only when its colour check needs decoded pixels
that fit the memory budget. A JPEG or DICOM is spooled (in memory while small, then to a
temporary file) so it can be decoded completely at `finish`, after its header passed the
size limits. A PNG whose header already breaks a limit, or a file whose bytes are not what
its name says, is only hashed from then on: it is never held nor decoded.

    inspector = FileInspector(declared)
    for chunk in chunks: inspector.feed(chunk)   # from a worker thread: decoding is CPU work
    report = inspector.finish()                  # releases the spool and decoded pixels
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from typing import IO, Final

from luna.validation import headers
from luna.validation.dicom_inspect import inspect_dicom
from luna.validation.files import expected_format, kind_of
from luna.validation.manifest_csv import ManifestReader, ManifestUnreadable
from luna.validation.png_stream import PngDamaged, PngStream
from luna.validation.raster import (
    DecodeError,
    RasterFacts,
    decode_jpeg,
    png_needs_pixels,
    png_pixel_facts,
)
from luna.validation.report import DeclaredFile, FileReport, Finding
from luna.validation.rules import image as image_rules
from luna.validation.rules import manifest as manifest_rules
from luna.validation.rules import upload as upload_rules
from luna.validation.ruleset import (
    MANIFEST_MAX_BYTES,
    MANIFEST_MAX_ROWS,
    MAX_SIDE_PX,
    ImageFormat,
    Rule,
)

# Typical X-rays (2-30 MB) are decoded from memory; only larger files touch the disk.
SPOOL_IN_MEMORY_BYTES: Final = 32 * 1024 * 1024


class FileInspector:
    """Inspects one stored object as its bytes arrive; `feed` in order, then `finish` once.

    Not for concurrent use: one caller at a time, from any thread.
    """

    def __init__(
        self,
        declared: DeclaredFile,
        *,
        spool_in_memory_bytes: int = SPOOL_IN_MEMORY_BYTES,
        spool_dir: str | None = None,
        manifest_max_bytes: int = MANIFEST_MAX_BYTES,
        manifest_max_rows: int = MANIFEST_MAX_ROWS,
    ) -> None:
        self.declared = declared
        self._kind = kind_of(declared.filename)
        self._expected: ImageFormat | None = expected_format(declared.filename)
        self._manifest_max_bytes = manifest_max_bytes
        self._sha256 = hashlib.sha256()
        self._size_bytes = 0
        self._head = bytearray()
        self._head_judged = False
        self._sniffed: ImageFormat | None = None
        self._header_size: tuple[int, int] | None = None
        self._png: PngStream | None = None
        self._manifest: ManifestReader | None = None
        self._finished = False
        self._sink: IO[bytes] | None
        if self._kind == "image":
            self._sink = tempfile.SpooledTemporaryFile(
                max_size=spool_in_memory_bytes, dir=spool_dir
            )
        elif self._kind == "manifest":
            self._sink = None  # parsed as it streams
            self._manifest = ManifestReader(max_rows=manifest_max_rows)
        else:
            self._sink = None  # only hashed

    def feed(self, chunk: bytes) -> None:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self._sha256.update(chunk)
        self._size_bytes += len(chunk)
        if not self._head_judged:
            self._head += chunk[: headers.SNIFF_BYTES - len(self._head)]
            if len(self._head) >= headers.SNIFF_BYTES:
                self._judge_head()
                if self._png is not None:  # it starts with the head, then the rest of chunk
                    self._png.feed(chunk[len(chunk) - (self._size_bytes - len(self._head)) :])
        elif self._png is not None:
            self._png.feed(chunk)
        if self._sink is not None:
            self._sink.write(chunk)
        elif self._manifest is not None:
            if self._size_bytes > self._manifest_max_bytes:
                self._manifest = None  # over the cap: reported at finish, never parsed further
            else:
                self._manifest.feed(chunk)

    def finish(self) -> FileReport:
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        try:
            if not self._head_judged:
                self._judge_head()  # a file shorter than the head: the PNG walk had it all
            report = FileReport(
                filename=self.declared.filename,
                present=True,
                size_bytes=self._size_bytes,
                sha256=self._sha256.hexdigest(),
            )
            report.findings.extend(upload_rules.check_stored(self.declared, report))
            if self._kind == "manifest":
                self._finish_manifest(report)
            elif self._kind == "image":
                self._finish_image(report)
            else:
                report.findings.extend(image_rules.check_supported(report.filename))
            return report
        finally:
            self._drop_sink()

    @property
    def held_bytes(self) -> int:
        """Bytes kept so far for decoding (a manifest is parsed as it streams: none)."""
        return self._sink.tell() if self._sink is not None else 0

    def close(self) -> None:
        """Abandon the inspection (e.g. the stream failed): release the spool, no report."""
        self._finished = True
        self._drop_sink()

    def __enter__(self) -> FileInspector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._drop_sink()

    # --- what the first bytes decide ---------------------------------------------------

    def _judge_head(self) -> None:
        self._head_judged = True
        if self._kind != "image":
            return
        head = bytes(self._head)
        self._sniffed = headers.sniff_format(head)
        if self._sniffed != self._expected:
            self._drop_sink()  # judged on its first bytes alone
        elif self._sniffed == "png":
            self._header_size = headers.png_size(head)
            if self._header_size and max(self._header_size) > MAX_SIDE_PX:
                self._drop_sink()  # a bomb is refused from its header: never stored, never decoded
                return
            self._png = PngStream()
            self._png.feed(head)
            header = self._png.header
            if header is None or not png_needs_pixels(header):
                self._drop_sink()  # checked as it streams; no decoded pixels needed

    def _drop_sink(self) -> None:
        self._manifest = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    # --- the verdict at the end --------------------------------------------------------

    def _finish_manifest(self, report: FileReport) -> None:
        report.format = "csv"
        if self._manifest is None:
            report.findings.append(manifest_rules.too_large(self._size_bytes))
            return
        try:
            report.manifest = self._manifest.finish()
        except ManifestUnreadable as exc:
            report.findings.append(manifest_rules.unreadable(exc))
        finally:
            self._manifest = None

    def _finish_image(self, report: FileReport) -> None:
        name = report.filename
        assert self._expected is not None
        if self._size_bytes == 0:
            report.findings.append(image_rules.empty(name))
            return
        report.format = self._sniffed
        if self._sniffed != self._expected:
            what = headers.describe_bytes(bytes(self._head))
            report.findings.extend(
                image_rules.check_type(
                    name, expected=self._expected, actual=self._sniffed, what=what
                )
            )
            return
        if self._sniffed == "dicom":
            report.findings.extend(self._inspect_dicom(report))
        else:
            report.findings.extend(self._inspect_raster(report))

    def _inspect_raster(self, report: FileReport) -> list[Finding]:
        name = report.filename
        assert self._sniffed in ("png", "jpeg")
        size = self._header_size
        if size is None and self._sink is not None and self._sniffed == "jpeg":
            size = headers.jpeg_size(self._sink)
        if size is None:
            return [
                image_rules.corrupt(
                    name, "the header giving the picture's dimensions is missing or damaged"
                )
            ]
        report.width, report.height = size
        findings = image_rules.check_dimensions(name, width=size[0], height=size[1])
        if _refused(findings):
            return findings
        try:
            facts = self._decode_raster()
        except DecodeError as exc:
            bad = (
                image_rules.too_large_bomb(name, exc.reason)
                if exc.too_large
                else image_rules.corrupt(name, exc.reason)
            )
            return [*findings, bad]
        return findings + image_rules.check_decoded(name, facts)

    def _decode_raster(self) -> RasterFacts:
        if self._png is not None:
            try:
                png = self._png.finish()
            except PngDamaged as exc:
                raise DecodeError(exc.reason) from exc
            pixels = self._sink if png_needs_pixels(png) else None
            return png_pixel_facts(pixels, png)
        assert self._sink is not None
        with _bytes_of(self._sink) as data:
            return decode_jpeg(data)

    def _inspect_dicom(self, report: FileReport) -> list[Finding]:
        assert self._sink is not None
        return inspect_dicom(report.filename, self._sink, report)


def _bytes_of(spool: IO[bytes]) -> memoryview:
    """The spooled bytes, without a copy while they are in memory; release the view (`with`)
    before the spool is closed."""
    rolled = getattr(spool, "_file", spool)  # a SpooledTemporaryFile's buffer or its file
    if isinstance(rolled, io.BytesIO):
        return rolled.getbuffer()
    spool.seek(0)
    return memoryview(spool.read())


def _refused(findings: list[Finding]) -> bool:
    return any(f.rule == Rule.IMAGE_TOO_LARGE for f in findings)


def missing_file_report(declared: DeclaredFile) -> FileReport:
    """The report for a declared file that is not in storage."""
    report = FileReport(filename=declared.filename, present=False)
    report.findings.extend(upload_rules.check_stored(declared, report))
    return report

"""FileInspector: the same report whatever the chunking, sniffing by bytes, bounded holding."""

from __future__ import annotations

import hashlib

import pytest
from factories import dicom, inspect_bytes, jpeg, manifest, png, png_bomb

from luna.validation import DeclaredFile, FileInspector, missing_file_report


def declared_for(filename: str, data: bytes, **overrides: object) -> DeclaredFile:
    values: dict[str, object] = {
        "file_id": 1,
        "filename": filename,
        "content_type": "application/octet-stream",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    values.update(overrides)
    return DeclaredFile(**values)  # type: ignore[arg-type]


SMALL_FILES = {
    "a.png": png(seed=21),
    "b.png": png(seed=22, bits=16),
    "c.jpg": jpeg(seed=23, progressive=True, artist="Someone"),
    "d.dcm": dicom(seed=24, phi={"PatientName": "Doe^Jane"}, patient_id="X1"),
    "e.png": png(200, 300, seed=25),
    "f.png": png_bomb(),
    "manifest.csv": manifest([{"filename": "a.png", "patient_id": "P1", "label": "Mass"}]),
}


@pytest.mark.parametrize("filename", list(SMALL_FILES))
def test_report_is_the_same_for_any_chunking(filename: str) -> None:
    data = SMALL_FILES[filename]
    declared = declared_for(filename, data)
    reports = [inspect_bytes(declared, data, chunk_bytes=n) for n in (1, 7, 1024 * 1024)]
    assert reports[0] == reports[1] == reports[2]
    assert reports[0].sha256 == hashlib.sha256(data).hexdigest()
    assert reports[0].size_bytes == len(data)


def test_facts_of_a_decoded_image() -> None:
    data = png(300, 280, seed=3, bits=16)
    report = inspect_bytes(declared_for("x/y.PNG", data), data)
    assert report.facts() == {
        "filename": "x/y.PNG",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": "png",
        "width": 300,
        "height": 280,
    }
    assert report.findings == []


def test_format_comes_from_the_bytes_not_the_name() -> None:
    data = png(seed=4)
    report = inspect_bytes(declared_for("scan.dcm", data), data)
    assert [f.rule for f in report.findings] == ["image.type_mismatch"]
    assert report.format == "png"
    assert "scan.png" in report.findings[0].message


def test_a_bomb_is_refused_from_its_header_and_never_held() -> None:
    inspector = FileInspector(declared_for("bomb.png", b"", size_bytes=0, sha256=None))
    inspector.feed(png_bomb(50_000, 50_000)[:64])
    for _ in range(8):
        inspector.feed(b"\x00" * (1024 * 1024))
    assert inspector.held_bytes == 0
    report = inspector.finish()
    assert {f.rule for f in report.findings} == {"image.too_large", "upload.size_mismatch"}
    assert (report.width, report.height) == (50_000, 50_000)


@pytest.mark.parametrize(
    ("filename", "data"), [("a.jpg", jpeg(seed=5)), ("b.png", png(seed=5, colour=True))]
)
def test_a_valid_image_is_held_until_finish_then_released(filename: str, data: bytes) -> None:
    inspector = FileInspector(declared_for(filename, data))
    inspector.feed(data)
    assert inspector.held_bytes == len(data)
    inspector.finish()
    assert inspector.held_bytes == 0


def test_a_grayscale_png_is_checked_as_it_streams_and_never_held() -> None:
    data = png(seed=5, bits=16)
    inspector = FileInspector(declared_for("a.png", data))
    for start in range(0, len(data), 1000):
        inspector.feed(data[start : start + 1000])
    assert inspector.held_bytes == 0
    report = inspector.finish()
    assert report.findings == [] and (report.width, report.height) == (288, 320)


def test_a_mismatched_file_is_only_hashed() -> None:
    data = jpeg(seed=6)
    inspector = FileInspector(declared_for("a.png", data))
    inspector.feed(data)
    assert inspector.held_bytes == 0


def test_other_files_are_only_hashed() -> None:
    inspector = FileInspector(declared_for("notes.txt", b"hello"))
    inspector.feed(b"hello")
    assert inspector.held_bytes == 0
    assert [f.rule for f in inspector.finish().findings] == ["image.unsupported_type"]


def test_the_manifest_is_parsed_as_it_streams_and_its_bytes_are_not_kept() -> None:
    data = manifest([{"filename": "a.png", "patient_id": "P1", "label": "Mass"}])
    report = inspect_bytes(declared_for("manifest.csv", data), data)
    assert report.content is None and report.format == "csv"
    assert report.manifest is not None and report.manifest.rows[0].filename == "a.png"

    inspector = FileInspector(
        declared_for("manifest.csv", data * 100), manifest_max_bytes=len(data) * 10
    )
    for _ in range(100):
        inspector.feed(data)
    assert inspector.held_bytes == 0
    report = inspector.finish()
    assert report.manifest is None
    assert [f.rule for f in report.findings] == ["manifest.unreadable"]


def test_spooling_to_disk_gives_the_same_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = dicom(seed=7)
    declared = declared_for("a.dcm", data)
    in_memory = inspect_bytes(declared, data)
    inspector = FileInspector(declared, spool_in_memory_bytes=1024, spool_dir=str(tmp_path))
    for start in range(0, len(data), 4096):
        inspector.feed(data[start : start + 4096])
    assert inspector.finish() == in_memory


def test_feed_after_finish_is_a_bug() -> None:
    inspector = FileInspector(declared_for("a.png", b""))
    inspector.finish()
    with pytest.raises(RuntimeError):
        inspector.feed(b"x")
    with pytest.raises(RuntimeError):
        inspector.finish()


def test_close_abandons_without_report() -> None:
    data = png(seed=8)
    with FileInspector(declared_for("a.png", data)) as inspector:
        inspector.feed(data[:1000])
    assert inspector.held_bytes == 0


def test_missing_file_report() -> None:
    report = missing_file_report(declared_for("gone.png", b"abc"))
    assert not report.present
    assert [f.rule for f in report.findings] == ["upload.missing"]

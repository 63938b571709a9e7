"""upload.* and dataset.* rules over reports and rows."""

from __future__ import annotations

from luna.validation import DeclaredFile, FileReport
from luna.validation.manifest_csv import ManifestRow
from luna.validation.rules.dataset import check_duplicates, check_empty, check_patient_leakage
from luna.validation.rules.upload import check_stored

SHA_A = "a" * 64
SHA_B = "b" * 64


def declared(
    filename: str = "a.png", *, size_bytes: int = 10, sha256: str | None = SHA_A
) -> DeclaredFile:
    return DeclaredFile(
        file_id=1, filename=filename, content_type="image/png", size_bytes=size_bytes, sha256=sha256
    )


def stored(filename: str = "a.png", *, size_bytes: int = 10, sha256: str = SHA_A) -> FileReport:
    return FileReport(filename=filename, present=True, size_bytes=size_bytes, sha256=sha256)


def test_stored_as_declared() -> None:
    assert check_stored(declared(), stored()) == []
    assert check_stored(declared(sha256=None), stored()) == []
    assert check_stored(declared(sha256=SHA_A.upper()), stored()) == []


def test_upload_mismatches() -> None:
    assert [f.rule for f in check_stored(declared(size_bytes=11), stored())] == [
        "upload.size_mismatch"
    ]
    assert [f.rule for f in check_stored(declared(sha256=SHA_B), stored())] == [
        "upload.checksum_mismatch"
    ]
    both = check_stored(declared(size_bytes=11, sha256=SHA_B), stored())
    assert [f.rule for f in both] == ["upload.size_mismatch", "upload.checksum_mismatch"]


def test_missing_upload() -> None:
    (finding,) = check_stored(declared(), FileReport(filename="a.png", present=False))
    assert (finding.rule, finding.file, finding.severity) == ("upload.missing", "a.png", "error")
    (manifest,) = check_stored(
        declared("manifest.csv"), FileReport(filename="manifest.csv", present=False)
    )
    assert "the manifest" in manifest.message


def test_empty_means_no_image_declared() -> None:
    assert [f.rule for f in check_empty([stored("manifest.csv"), stored("notes.txt")])] == [
        "dataset.empty"
    ]
    assert check_empty([stored("manifest.csv"), stored("a.DCM")]) == []


def test_duplicates_name_every_copy_after_the_first() -> None:
    reports = [stored("c.png"), stored("a.png"), stored("b.png", sha256=SHA_B), stored("d.jpg")]
    findings = check_duplicates(reports)
    assert [(f.rule, f.file) for f in findings] == [
        ("dataset.duplicate_image", "c.png"),
        ("dataset.duplicate_image", "d.jpg"),
    ]
    assert "same bytes as 'a.png'" in findings[0].message


def test_identical_non_images_are_not_duplicates() -> None:
    assert check_duplicates([stored("a.txt"), stored("b.txt")]) == []


def row(number: int, patient: str, split: str) -> ManifestRow:
    return ManifestRow(
        row=number, filename=f"{number}.png", patient_id=patient, label="Mass", split=split, view=""
    )


def test_patient_leakage_across_splits() -> None:
    rows = [
        row(2, "P1", "train"),
        row(3, "P1", "train"),
        row(4, "P2", "val"),
        row(5, "P1", "test"),
        row(6, "P1", ""),
    ]
    (finding,) = check_patient_leakage(rows)
    assert (finding.rule, finding.row) == ("dataset.patient_leakage", 5)
    assert "train (rows 2, 3) and test (row 5)" in finding.message


def test_unassigned_rows_do_not_leak() -> None:
    assert check_patient_leakage([row(2, "P1", "train"), row(3, "P1", "")]) == []

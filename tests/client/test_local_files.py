"""What `luna submit` reads from the team's disk."""

from __future__ import annotations

import hashlib

from luna.client.local_files import content_type_of, hash_files, scan_directory
from luna.client.preflight import check_dataset_locally


def test_hidden_files_are_skipped_and_paths_are_relative_with_slashes(tmp_path):
    (tmp_path / "images" / "left").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    (tmp_path / ".DS_Store").write_bytes(b"x")
    (tmp_path / "images" / "left" / "a.PNG").write_bytes(b"12345")
    (tmp_path / "images" / "._a.png").write_bytes(b"x")
    (tmp_path / "manifest.csv").write_text("filename\n")
    files = scan_directory(tmp_path)
    assert [(f.filename, f.size_bytes, f.content_type) for f in files] == [
        ("images/left/a.PNG", 5, "image/png"),
        ("manifest.csv", 9, "text/csv"),
    ]


def test_content_types_follow_the_extension():
    assert content_type_of("a.jpeg") == "image/jpeg"
    assert content_type_of("b/c.JPG") == "image/jpeg"
    assert content_type_of("x.dcm") == "application/dicom"
    assert content_type_of("notes.txt") == "application/octet-stream"


async def test_hashes_are_sha256_of_the_whole_file(tmp_path):
    data = bytes(range(256)) * 10_000  # several read chunks
    (tmp_path / "big.dcm").write_bytes(data)
    (tmp_path / "empty.png").write_bytes(b"")
    counted: list[int] = []
    files = await hash_files(scan_directory(tmp_path), on_bytes=counted.append)
    assert {f.filename: f.sha256 for f in files} == {
        "big.dcm": hashlib.sha256(data).hexdigest(),
        "empty.png": hashlib.sha256(b"").hexdigest(),
    }
    assert sum(counted) == len(data)


def test_the_local_check_finds_what_the_server_would_in_the_manifest(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "manifest.csv").write_text(
        "filename,patient_id,label,split\na.png,p1,No Finding,train\nc.png,p1,Nodule,test\n"
    )
    findings = check_dataset_locally(scan_directory(tmp_path))
    assert {(f.rule, f.file, f.row) for f in findings} == {
        ("manifest.unknown_file", "manifest.csv", 3),
        ("manifest.unlisted_image", "b.png", None),
    }

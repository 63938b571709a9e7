"""`luna example-dataset`: judged by the server's own rules, offline."""

from __future__ import annotations

import argparse
import hashlib
import io
from pathlib import Path

import numpy as np
import pydicom

from luna.client import add_client_commands, run_client_command
from luna.client.commands import luna_command
from luna.examples import DirectoryNotEmpty, plan_rows, write_example_dataset
from luna.validation import DeclaredFile, FileInspector, judge_dataset


def judge(directory: Path, files: tuple[str, ...]):
    declared, reports = [], []
    for number, name in enumerate(files, start=1):
        data = (directory / name).read_bytes()
        item = DeclaredFile(
            number, name, "application/octet-stream", len(data), hashlib.sha256(data).hexdigest()
        )
        inspector = FileInspector(item)
        inspector.feed(data)
        declared.append(item)
        reports.append(inspector.finish())
    return judge_dataset(declared, reports)


def test_the_example_dataset_is_accepted_by_the_ruleset(tmp_path):
    example = write_example_dataset(tmp_path / "ds", images=12)
    results = judge(example.directory, example.files)
    assert results.findings == []
    assert results.verdict == "accepted"
    assert results.stats["images"] == 12
    assert set(results.stats["by_format"]) == {"png", "jpeg", "dicom"}
    assert {f["width"] for f in results.files if f["format"] != "csv"} == {512}


def test_example_dicoms_carry_the_pseudonym_and_no_other_identifier(tmp_path):
    example = write_example_dataset(tmp_path / "ds", images=12)
    rows = {r.filename: r for r in example.rows}
    dicoms = [name for name in example.files if name.endswith(".dcm")]
    assert dicoms
    for name in dicoms:
        ds = pydicom.dcmread(example.directory / name)
        assert ds.Modality == "DX"
        assert ds.PatientID == rows[name].patient_id
        assert not ds.get("PatientName")
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian


def test_no_patient_is_in_two_splits():
    rows = plan_rows(60, rng=np.random.default_rng(7))
    assert len(rows) == 60
    splits: dict[str, set[str]] = {}
    for row in rows:
        splits.setdefault(row.patient_id, set()).add(row.split)
    assert all(len(s) == 1 for s in splits.values())
    assert len(splits) > 10


def test_the_broken_example_is_rejected_for_its_three_mistakes(tmp_path):
    example = write_example_dataset(tmp_path / "ds", images=4, broken=True)
    results = judge(example.directory, example.files)
    assert results.verdict == "rejected"
    assert {(f.rule, f.file) for f in results.findings} == {
        ("manifest.bad_label", "manifest.csv"),
        ("manifest.unlisted_image", "images/extra_scan.png"),
        ("image.corrupt", "images/cut_short.jpg"),
    }


def test_the_command_writes_a_dataset_and_refuses_to_overwrite(tmp_path):
    parser = argparse.ArgumentParser(prog="luna")
    add_client_commands(parser.add_subparsers(dest="command", required=True))
    target = tmp_path / "mine"
    out, err = io.StringIO(), io.StringIO()
    args = parser.parse_args(["example-dataset", str(target), "--images", "3"])
    assert run_client_command(args, out=out, err=err) == 0
    assert f"submit it with: {luna_command()} submit {target}\n" in out.getvalue()
    assert (target / "manifest.csv").read_text().count("\n") == 4

    assert run_client_command(args, out=out, err=err) == 2
    assert "is not empty" in err.getvalue()


def test_an_example_never_overwrites_files(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    try:
        write_example_dataset(tmp_path)
    except DirectoryNotEmpty:
        pass
    else:
        raise AssertionError("wrote into a non-empty directory")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]

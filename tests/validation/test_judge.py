"""judge_dataset: the dataset-wide pass, its order, statistics and the contract's shape."""

from __future__ import annotations

import random

from factories import (
    DATASETS,
    base,
    build_spec,
    dicom,
    inspect_bytes,
    manifest,
    png,
    validate_offline,
)

from luna.validation import judge_dataset, missing_file_report


def test_results_have_the_contract_shape() -> None:
    results = validate_offline(DATASETS["clean-mixed-formats"])
    body = results.as_dict()
    assert set(body) == {"verdict", "ruleset", "summary", "findings", "stats", "files"}
    assert body["ruleset"] == "luna2025-xray-v1"
    assert body["summary"] == {"errors": 0, "warnings": 0}
    assert body["stats"] == {
        "files": 5,
        "images": 4,
        "patients": 4,
        "bytes": sum(len(b) for b in DATASETS["clean-mixed-formats"].stored.values()),
        "by_format": {"dicom": 1, "jpeg": 1, "png": 2},
        "by_label": {"No Finding": 4},
        "by_split": {"train": 4},
        "width": {"min": 288, "max": 288},
        "height": {"min": 320, "max": 320},
    }
    assert [f["filename"] for f in body["files"]] == [
        "a.png",
        "b.png",
        "c.jpg",
        "d.dcm",
        "manifest.csv",
    ]
    assert set(body["files"][0]) == {
        "filename",
        "size_bytes",
        "sha256",
        "format",
        "width",
        "height",
    }


def test_label_and_split_statistics() -> None:
    stats = validate_offline(DATASETS["clean-multi-labels"]).stats
    assert stats["by_label"] == {
        "No Finding": 1,
        "Cardiomegaly": 1,
        "Effusion": 2,
        "Mass": 2,
        "Nodule": 1,
        "Edema": 1,
        "Pleural_Thickening": 1,
        "Hernia": 1,
    }
    assert stats["by_split"] == {"train": 2, "val": 1, "test": 1}
    assert stats["patients"] == 3
    unassigned = validate_offline(DATASETS["clean-empty-split-view"]).stats
    assert unassigned["by_split"] == {"unassigned": 4}


def test_findings_come_in_a_stable_order_whatever_the_report_order() -> None:
    files, rows = base()
    files = {**files, "p001_a.png": png(100, 100), "z.gif": b"GIF89a", "y.png": png(seed=40)}
    rows = [*rows[:3], {**rows[3], "label": "Cancer", "split": "training"}, rows[0]]
    spec = build_spec("mixed", "many problems", files, rows=rows)
    declared = spec.declared_files()
    reports = [inspect_bytes(d, spec.stored[d.filename]) for d in declared]
    orders = []
    for seed in range(5):
        random.Random(seed).shuffle(reports)
        orders.append([f.as_dict() for f in judge_dataset(declared, reports).findings])
    assert all(order == orders[0] for order in orders)
    assert [f["rule"] for f in orders[0]] == [
        "manifest.duplicate_row",
        "manifest.unlisted_image",
        "manifest.bad_label",
        "manifest.bad_split",
        "image.unsupported_type",
        "image.too_small",
    ]


def test_a_missing_manifest_upload_is_reported_once() -> None:
    files, rows = base()
    spec = build_spec("no-manifest-upload", "", files, rows=rows, not_stored={"manifest.csv"})
    results = validate_offline(spec)
    assert [(f.rule, f.file) for f in results.findings] == [("upload.missing", "manifest.csv")]


def test_dicom_patient_id_is_checked_only_against_its_own_row() -> None:
    files = {"a.dcm": dicom(seed=1, patient_id="P-A"), "b.dcm": dicom(seed=2, patient_id="P-A")}
    rows = [
        {"filename": "a.dcm", "patient_id": "P-A", "label": "Mass"},
        {"filename": "b.dcm", "patient_id": "P-B", "label": "Mass"},
    ]
    results = validate_offline(build_spec("ids", "", files, rows=rows))
    assert [(f.rule, f.file, f.row) for f in results.findings] == [("dicom.phi", "b.dcm", 3)]


def test_leakage_ignores_rows_with_a_bad_patient_id() -> None:
    files, rows = base()
    rows = [
        {**rows[0], "patient_id": "bad id"},
        {**rows[1], "patient_id": "bad id", "split": "test"},
        *rows[2:],
    ]
    results = validate_offline(build_spec("bad-ids", "", files, rows=rows))
    assert results.rules == {"manifest.bad_patient_id"}


def test_manifest_in_any_case_at_the_root_is_the_manifest() -> None:
    files, rows = base()
    spec = build_spec("upper-manifest", "", {**files, "MANIFEST.CSV": manifest(rows)})
    assert validate_offline(spec).findings == []


def test_missing_report_for_a_declared_image() -> None:
    spec = DATASETS["upload.missing"]
    declared = spec.declared_files()
    reports = [
        inspect_bytes(d, spec.stored[d.filename])
        if d.filename in spec.stored
        else missing_file_report(d)
        for d in declared
    ]
    results = judge_dataset(declared, reports)
    assert results.stats["images"] == 4
    assert [f["filename"] for f in results.files] == sorted(spec.stored)

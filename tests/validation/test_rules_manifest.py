"""Manifest parsing and the manifest.* rules, row numbers counted with the header as row 1."""

from __future__ import annotations

import pytest
from factories import manifest

from luna.validation.manifest_csv import ManifestUnreadable, parse_manifest
from luna.validation.rules.manifest import check_rows, read_manifest, reconcile

HEADER = b"filename,patient_id,label,split,view\n"


def rules_of(findings) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    return [(f.rule, f.row) for f in findings]


def test_header_is_row_1_and_rows_count_every_record() -> None:
    content = (
        b"\nFileName , Patient_ID,LABEL\r\n\r\na.png,P1,Mass\r\n,,\r\nb.png,P2,Nodule,extra\r\n"
    )
    parsed = parse_manifest(content)
    assert parsed.header_row == 2
    assert [(r.row, r.filename, r.patient_id, r.label) for r in parsed.rows] == [
        (4, "a.png", "P1", "Mass"),
        (6, "b.png", "P2", "Nodule"),
    ]


def test_bom_crlf_and_quoted_fields() -> None:
    rows = [
        {
            "filename": "a, b.png",
            "patient_id": "P1",
            "label": "Mass|Nodule",
            "split": "train",
            "view": "PA",
        }
    ]
    parsed = parse_manifest(manifest(rows, bom=True, crlf=True, quote_all=True))
    assert parsed.header[0] == "filename"
    (row,) = parsed.rows
    assert (row.filename, row.label, row.split, row.view) == (
        "a, b.png",
        "Mass|Nodule",
        "train",
        "PA",
    )


def test_a_line_break_inside_quotes_stays_in_one_row() -> None:
    content = b'filename,notes,patient_id,label\na.png,"one\ntwo",P1,Mass\nb.png,,P2,Mass\n'
    parsed = parse_manifest(content)
    assert [(r.row, r.filename) for r in parsed.rows] == [(2, "a.png"), (3, "b.png")]


def test_columns_in_any_order_and_unknown_columns_ignored() -> None:
    content = b"site,label,view,patient_id,filename\nX,Mass,AP,P1,a.png\n"
    (row,) = parse_manifest(content).rows
    assert (row.filename, row.patient_id, row.label, row.view, row.split) == (
        "a.png",
        "P1",
        "Mass",
        "AP",
        "",
    )


@pytest.mark.parametrize(
    ("content", "words", "row"),
    [
        (b"", "empty", None),
        (b"\n\n", "empty", None),
        ("filename,patient_id,label\nä.png,P1,Mass\n".encode("latin-1"), "not UTF-8", 2),
        ("filename\n".encode("utf-16"), "UTF-16", None),
        (b"PK\x03\x04rest", "workbook", None),
        (b'filename,patient_id,label\n"a.png,P1,Mass\n', "not valid CSV", 2),
        (b"filename,label,Label\n", "appears twice", 1),
    ],
)
def test_unreadable_manifests_say_why(content: bytes, words: str, row: int | None) -> None:
    with pytest.raises(ManifestUnreadable) as caught:
        parse_manifest(content)
    assert words in caught.value.reason
    assert caught.value.row == row
    parsed, findings = read_manifest(content)
    assert parsed is None and rules_of(findings) == [("manifest.unreadable", row)]


def test_missing_columns_are_each_reported_with_a_hint() -> None:
    parsed, findings = read_manifest(b"file_name,patient_id\na.png,P1\n")
    assert parsed is not None
    assert sorted(rules_of(findings)) == [("manifest.missing_column", 1)] * 2
    messages = " ".join(f.message for f in findings)
    assert "rename the column 'file_name' to 'filename'" in messages
    assert "add a 'label' column" in messages


def test_semicolon_separated_manifest_is_named() -> None:
    _, findings = read_manifest(b"filename;patient_id;label\na.png;P1;Mass\n")
    assert len(findings) == 3
    assert all("';'" in f.message for f in findings)


@pytest.mark.parametrize(
    ("label", "ok", "words"),
    [
        ("No Finding", True, ""),
        ("Mass|Nodule|Pleural_Thickening", True, ""),
        (" Mass | Nodule ", True, ""),
        ("Cancer", False, "use one of No Finding, Atelectasis"),
        ("cardiomegaly", False, "did you mean 'Cardiomegaly'"),
        ("Pleural Thickening", False, "did you mean 'Pleural_Thickening'"),
        ("No Finding|Mass", False, "stands alone"),
        ("Mass|", False, "empty part"),
        ("", False, "label is empty"),
    ],
)
def test_labels(label: str, ok: bool, words: str) -> None:
    content = (
        HEADER
        + manifest([{"filename": "a.png", "patient_id": "P1", "label": label}]).split(b"\n", 1)[1]
    )
    parsed, _ = read_manifest(content)
    assert parsed is not None
    findings = check_rows(parsed)
    if ok:
        assert findings == []
    else:
        assert rules_of(findings) == [("manifest.bad_label", 2)]
        assert words in findings[0].message and findings[0].message.startswith("row 2: ")


@pytest.mark.parametrize(
    ("patient_id", "ok", "words"),
    [
        ("LUNA-0001", True, ""),
        ("a.b_c-9", True, ""),
        ("x" * 64, True, ""),
        ("x" * 65, False, "65 characters"),
        ("", False, "empty"),
        ("P 1", False, "e.g. 'P_1'"),
        ("Müller", False, "'ü'"),
    ],
)
def test_patient_ids(patient_id: str, ok: bool, words: str) -> None:
    parsed = parse_manifest(HEADER + f"a.png,{patient_id},Mass,,\n".encode())
    findings = check_rows(parsed)
    assert (findings == []) == ok
    if not ok:
        assert (
            rules_of(findings) == [("manifest.bad_patient_id", 2)] and words in findings[0].message
        )


@pytest.mark.parametrize(
    ("split", "view", "expected"),
    [
        ("train", "PA", []),
        ("", "", []),
        ("val", "LAT", []),
        ("Train", "AP", [("manifest.bad_split", "did you mean 'train'")]),
        ("validation", "AP", [("manifest.bad_split", "did you mean 'val'")]),
        (
            "holdout",
            "AP",
            [("manifest.bad_split", "leave it empty or use one of train, val, test")],
        ),
        ("test", "pa", [("manifest.bad_view", "did you mean 'PA'")]),
        ("test", "lateral", [("manifest.bad_view", "did you mean 'LAT'")]),
        ("test", "oblique", [("manifest.bad_view", "use one of PA, AP, LAT")]),
    ],
)
def test_split_and_view(split: str, view: str, expected: list[tuple[str, str]]) -> None:
    parsed = parse_manifest(HEADER + f"a.png,P1,Mass,{split},{view}\n".encode())
    findings = check_rows(parsed)
    assert [(f.rule, f.row) for f in findings] == [(rule, 2) for rule, _ in expected]
    for finding, (_, words) in zip(findings, expected, strict=True):
        assert words in finding.message


def test_absent_optional_columns_are_not_checked() -> None:
    parsed = parse_manifest(b"filename,patient_id,label\na.png,P1,Mass\n")
    assert check_rows(parsed) == []


def test_reconcile_matches_ignoring_case_and_windows_separators() -> None:
    parsed = parse_manifest(HEADER + b"IMAGES\\A.PNG,P1,Mass,,\n./images/b.png,P1,Mass,,\n")
    rows, findings = reconcile(
        parsed, declared=["images/a.png", "images/b.png"], images=["images/a.png", "images/b.png"]
    )
    assert findings == []
    assert {name: row.row for name, row in rows.items()} == {"images/a.png": 2, "images/b.png": 3}


def test_reconcile_reports_duplicates_unknown_and_unlisted() -> None:
    parsed = parse_manifest(
        HEADER + b"a.png,P1,Mass,,\nA.PNG,P1,Mass,,\nc.png,P1,Mass,,\n,P1,Mass,,\nd.png,P1,Mass,,\n"
    )
    rows, findings = reconcile(
        parsed,
        declared=["a.png", "b.png", "sub/d.png", "manifest.csv"],
        images=["a.png", "b.png", "sub/d.png"],
    )
    assert list(rows) == ["a.png"]
    assert sorted((f.rule, f.row, f.file) for f in findings) == [
        ("manifest.duplicate_row", 3, "manifest.csv"),
        ("manifest.unknown_file", 4, "manifest.csv"),
        ("manifest.unknown_file", 5, "manifest.csv"),
        ("manifest.unknown_file", 6, "manifest.csv"),
        ("manifest.unlisted_image", None, "b.png"),
        ("manifest.unlisted_image", None, "sub/d.png"),
    ]
    by_row = {f.row: f.message for f in findings}
    assert "already listed on row 2" in by_row[3]
    assert "filename is empty" in by_row[5]
    assert "did you mean 'sub/d.png'" in by_row[6]


def test_a_declared_but_missing_file_is_not_unknown() -> None:
    parsed = parse_manifest(HEADER + b"a.png,P1,Mass,,\n")
    rows, findings = reconcile(parsed, declared=["a.png"], images=[])
    assert findings == [] and list(rows) == ["a.png"]


def test_without_a_filename_column_nothing_is_reconciled() -> None:
    parsed = parse_manifest(b"patient_id,label\nP1,Mass\n")
    assert reconcile(parsed, declared=["a.png"], images=["a.png"]) == ({}, [])

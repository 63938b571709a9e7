"""Every catalogue dataset through the pure pipeline gives exactly its expected rules."""

from __future__ import annotations

import pytest
from factories import CLEAN, DATASETS, validate_offline

from luna.validation import SEVERITY, Rule

# Chunk sizes vary across datasets so boundaries fall everywhere: odd, tiny, a page, the
# validator's own 1 MiB.
CHUNK_SIZES = (1024 * 1024, 4096, 7, 65_537, 1000)


@pytest.mark.parametrize(("index", "name"), list(enumerate(DATASETS)))
def test_dataset_triggers_exactly_its_rules(index: int, name: str) -> None:
    spec = DATASETS[name]
    results = validate_offline(spec, chunk_bytes=CHUNK_SIZES[index % len(CHUNK_SIZES)])
    assert results.rules == spec.expected_rules, [f.as_dict() for f in results.findings]
    assert results.verdict == spec.verdict


@pytest.mark.parametrize("rule", [r.value for r in Rule])
def test_every_rule_has_a_dataset_breaking_only_it(rule: str) -> None:
    assert rule in DATASETS
    assert DATASETS[rule].expected_rules == {rule}


def test_clean_variants_cover_what_teams_send() -> None:
    for name in (
        "clean-bom",
        "clean-crlf",
        "clean-quoted-fields",
        "clean-subfolders",
        "clean-uppercase-extensions",
        "clean-multi-labels",
        "clean-dicom-pseudonym",
        "clean-png16",
        "clean-jpg-progressive",
        "clean-dcm",
        "clean-dcm-cr",
    ):
        assert name in CLEAN


@pytest.mark.parametrize("name", list(CLEAN))
def test_clean_dataset_is_accepted_without_warnings(name: str) -> None:
    results = validate_offline(CLEAN[name])
    assert results.verdict == "accepted"
    assert results.findings == []
    assert results.stats["images"] >= 3


def test_warning_datasets_are_accepted() -> None:
    warned = [s for s in DATASETS.values() if s.expected_rules and s.accepted]
    assert {r for s in warned for r in s.expected_rules} == {
        r for r, severity in SEVERITY.items() if severity == "warning"
    }
    for spec in warned:
        assert validate_offline(spec).verdict == "accepted"


def test_declared_entries_have_the_upload_start_shape() -> None:
    for spec in DATASETS.values():
        names = [d["filename"] for d in spec.declared]
        assert len({n.lower() for n in names}) == len(names), spec.name
        assert set(spec.stored) <= set(names), spec.name
        for entry in spec.declared:
            assert set(entry) == {"filename", "content_type", "size_bytes", "sha256"}
            assert not entry["filename"].startswith("/") and ".." not in entry["filename"]
        body = spec.upload_start_body()
        assert body["files"] and body["dataset_name"] == spec.name


def test_upload_datasets_declare_what_differs_from_storage() -> None:
    missing = DATASETS["upload.missing"]
    assert {d["filename"] for d in missing.declared} - set(missing.stored) == {"p004_a.png"}
    size = DATASETS["upload.size_mismatch"]
    assert any(d["size_bytes"] != len(size.stored[d["filename"]]) for d in size.declared)

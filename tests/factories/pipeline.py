"""Run a catalogue dataset through the pure validation pipeline, as the validator does but
without storage: one `FileInspector` per stored file fed in chunks, then `judge_dataset`.

    results = validate_offline(DATASETS["image.corrupt"], chunk_bytes=7)
    assert results.rules == DATASETS["image.corrupt"].expected_rules
"""

from __future__ import annotations

from luna.validation import FileInspector, FileReport, Results, judge_dataset, missing_file_report

from .datasets import DatasetSpec

MiB = 1024 * 1024


def inspect_bytes(declared, data: bytes, *, chunk_bytes: int = MiB) -> FileReport:  # type: ignore[no-untyped-def]
    """One file's report, its bytes fed in chunks of `chunk_bytes`."""
    inspector = FileInspector(declared)
    view = memoryview(data)
    for start in range(0, len(data), chunk_bytes):
        inspector.feed(bytes(view[start : start + chunk_bytes]))
    return inspector.finish()


def validate_offline(spec: DatasetSpec, *, chunk_bytes: int = MiB) -> Results:
    declared = spec.declared_files()
    reports = [
        inspect_bytes(d, spec.stored[d.filename], chunk_bytes=chunk_bytes)
        if d.filename in spec.stored
        else missing_file_report(d)
        for d in declared
    ]
    return judge_dataset(declared, reports)

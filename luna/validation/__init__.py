"""Pure dataset validation: no I/O, no web, no queue, no database.

The validator feeds each stored object's bytes through a `FileInspector`, then judges the
dataset as a whole:

    inspector = FileInspector(declared)
    for chunk in chunks: inspector.feed(chunk)        # CPU work: call from a worker thread
    report = inspector.finish()                       # or missing_file_report(declared)
    results = judge_dataset(declared_files, reports)  # verdict, findings, stats, files
"""

from luna.validation.pipeline import FileInspector, judge_dataset, missing_file_report
from luna.validation.report import DeclaredFile, FileReport, Finding, Results

__all__ = [
    "DeclaredFile",
    "FileInspector",
    "FileReport",
    "Finding",
    "Results",
    "judge_dataset",
    "missing_file_report",
]

"""Pure dataset validation: no I/O, no web, no queue, no database.

The validator feeds each stored object's bytes through a `FileInspector`, then judges the
dataset as a whole:

    inspector = FileInspector(declared)
    for chunk in chunks: inspector.feed(chunk)        # CPU work: call from a worker thread
    report = inspector.finish()                       # or missing_file_report(declared)
    results = judge_dataset(declared_files, reports)  # verdict, findings, stats, files
"""

from luna.validation.inspect import FileInspector, missing_file_report
from luna.validation.judge import judge_dataset
from luna.validation.report import DeclaredFile, FileReport, Finding, Results
from luna.validation.ruleset import RULESET, SEVERITY, Rule

__all__ = [
    "RULESET",
    "SEVERITY",
    "DeclaredFile",
    "FileInspector",
    "FileReport",
    "Finding",
    "Results",
    "Rule",
    "judge_dataset",
    "missing_file_report",
]

"""The docs' log searches find what luna logs: each `logs ... | grep 'PATTERN'` of the docs is
run, with the real grep, over a line luna's own formatter writes."""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

from luna.observability import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LOG_GREP = re.compile(r"logs [^`|]*\| grep (?:-\w+ )*'([^']+)'")


def log_line(level: int) -> str:
    record = logging.LogRecord("luna", level, __file__, 1, "something went wrong", None, None)
    return JsonFormatter().format(record)


def log_searches() -> list[tuple[str, str]]:
    return [(path.name, pattern) for path in DOCS for pattern in LOG_GREP.findall(path.read_text())]


def test_the_docs_search_luna_logs_somewhere():
    assert ("deploy.md", '"level":"ERROR"') in log_searches()


def test_every_log_search_in_the_docs_finds_the_line_it_looks_for():
    for doc, pattern in log_searches():
        level = next(
            (value for name, value in logging.getLevelNamesMapping().items() if name in pattern),
            logging.ERROR,
        )
        line = log_line(level)
        found = subprocess.run(["grep", pattern], input=line + "\n", capture_output=True, text=True)
        assert found.returncode == 0, f"{doc}: grep '{pattern}' misses luna's line {line}"

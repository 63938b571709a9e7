"""luna against the reference tools on damaged PNG and JPEG files: the confusion table per format.

The files are the ones tests/validation/test_reference_tools.py judges (tests/factories/
damage.py): good files and damaged copies of them. For each format it prints how often luna
accepts or rejects what each tool accepts or rejects, then every disagreement with the
deciding tool (pngcheck, djpeg), with both verdicts and whether reference_allowlist.toml
allows it, and why.

Run: python bench/conformance.py [png|jpeg ...]     (goal: no disagreement outside the list)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories.damage import jpeg_cases, png_cases
from factories.reference import confusion_table, disagreements, judge, missing_tools

CASES = {"png": png_cases, "jpeg": jpeg_cases}


def main() -> int:
    formats = sys.argv[1:] or list(CASES)
    failed = False
    with tempfile.TemporaryDirectory(prefix="luna-conformance-") as workdir:
        for fmt in formats:
            if absent := missing_tools(fmt):
                print(f"{fmt}: skipped, not installed: {', '.join(absent)}")
                failed = True
                continue
            rows = judge(fmt, CASES[fmt](), Path(workdir))
            print(confusion_table(fmt, rows))
            outside = disagreements(fmt, rows)
            print(
                f"  outside the allow-list: {len(outside)}  (goal 0: {'ok' if not outside else 'MISSED'})"
            )
            failed |= bool(outside)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""luna's verdict on damaged PNG and JPEG files agrees with the reference tools.

Damaged copies of good files (tests/factories/damage.py: truncations at many offsets, bit
flips in image and entropy-coded data, broken CRCs, trailing data, structural faults) are
judged by luna and by `pngcheck`, `djpeg` and `jpeginfo -c`. Every disagreement with the
deciding tool (pngcheck, djpeg) fails unless its damage kind is listed, with a reason, in
reference_allowlist.toml. `python bench/conformance.py` prints the confusion tables.
"""

from __future__ import annotations

import os

import pytest
from factories.damage import jpeg_cases, png_cases
from factories.reference import (
    DECIDING_TOOL,
    Verdicts,
    allowed_disagreements,
    confusion_table,
    disagreements,
    judge,
    missing_tools,
)

CASES = {"png": png_cases, "jpeg": jpeg_cases}


def _require_tools(fmt: str) -> None:
    """Skip locally, fail under CI: a comparison that did not run must never look like a pass."""
    if absent := missing_tools(fmt):
        message = f"{', '.join(absent)} not installed (scripts/install-deploy-tools.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module", params=["png", "jpeg"])
def judged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[Verdicts]]:
    fmt: str = request.param
    _require_tools(fmt)
    return fmt, judge(fmt, CASES[fmt](), tmp_path_factory.mktemp(fmt))


def test_luna_agrees_with_the_reference_tools(judged: tuple[str, list[Verdicts]]) -> None:
    fmt, rows = judged
    table = confusion_table(fmt, rows)
    assert not disagreements(fmt, rows), table
    # The set is informative: good files accepted by all, and most damage refused by the tool.
    tool = DECIDING_TOOL[fmt]
    assert all(not r.luna and not r.tools[tool] for r in rows if r.case.kind == "good"), table
    assert sum(r.tools[tool] for r in rows) > len(rows) / 2, table


def test_rejections_say_what_is_wrong_without_python_internals(
    judged: tuple[str, list[Verdicts]],
) -> None:
    _fmt, rows = judged
    for row in rows:
        if row.luna:
            assert "export it again" in row.luna_reason, row.luna_reason
            for internal in ("<", "Error", "0x7f", "Traceback", "b'"):
                assert internal not in row.luna_reason, row.luna_reason


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_every_allowed_disagreement_names_a_generated_kind_and_a_reason(fmt: str) -> None:
    kinds = {case.kind for case in CASES[fmt]()}
    for kind, reason in allowed_disagreements(fmt).items():
        assert kind in kinds, f"{kind} is allowed but never generated"
        assert len(reason.split()) >= 8, f"{kind}: say why the difference is right"

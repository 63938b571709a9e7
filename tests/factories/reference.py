"""luna's verdict on each generated file next to the reference tools' verdicts.

    rows = judge("png", png_cases(), workdir)   # one Verdicts per case
    print(confusion_table(rows, "pngcheck"))

A reference tool rejects a file when it exits non-zero (`pngcheck`; `djpeg`, whose exit
status 2 means libjpeg warned about corrupt data) or, for `jpeginfo -c`, when it prints
WARNING or ERROR. luna rejects when the file gets an error finding of an image rule.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tomllib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from luna.validation import DeclaredFile, FileInspector

from .damage import Case

TOOLS = {"png": ("pngcheck",), "jpeg": ("djpeg", "jpeginfo")}
# The tool whose verdict a disagreement is judged against; the others are shown alongside.
DECIDING_TOOL = {"png": "pngcheck", "jpeg": "djpeg"}
ALLOW_LIST = Path(__file__).resolve().parents[1] / "validation" / "reference_allowlist.toml"
_EXTENSION = {"png": ".png", "jpeg": ".jpg"}
_TOOL_SECONDS = 30
_TOOLS_AT_ONCE = 4


@dataclass
class Verdicts:
    case: Case
    luna: bool  # True: rejected
    luna_reason: str
    tools: dict[str, bool] = field(default_factory=dict)
    tool_output: dict[str, str] = field(default_factory=dict)


def missing_tools(fmt: str) -> list[str]:
    return [tool for tool in TOOLS[fmt] if shutil.which(tool) is None]


def luna_verdict(fmt: str, case: Case) -> tuple[bool, str]:
    name = "file" + _EXTENSION[fmt]
    declared = DeclaredFile(
        file_id=1,
        filename=name,
        content_type="application/octet-stream",
        size_bytes=len(case.data),
        sha256=hashlib.sha256(case.data).hexdigest(),
    )
    inspector = FileInspector(declared)
    inspector.feed(case.data)
    report = inspector.finish()
    errors = [f for f in report.findings if f.rule.startswith("image.") and f.severity == "error"]
    return bool(errors), "; ".join(f.message for f in errors)


def tool_verdict(tool: str, path: Path) -> tuple[bool, str]:
    if tool == "pngcheck":
        argv = ["pngcheck", "-q", str(path)]
    elif tool == "djpeg":
        argv = ["djpeg", "-outfile", "/dev/null", str(path)]
    else:
        argv = ["jpeginfo", "-c", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=_TOOL_SECONDS, check=False)
    output = (done.stdout + done.stderr).strip()
    if tool == "jpeginfo":
        return ("WARNING" in output or "ERROR" in output or done.returncode != 0), output
    return done.returncode != 0, output


def judge(fmt: str, cases: Iterable[Case], workdir: Path) -> list[Verdicts]:
    """Every case judged by luna and by each tool (tools run a few at a time: each start
    costs more than the check)."""
    rows = []
    for case in cases:
        path = workdir / (case.name + _EXTENSION[fmt])
        path.write_bytes(case.data)
        rejected, reason = luna_verdict(fmt, case)
        rows.append(Verdicts(case=case, luna=rejected, luna_reason=reason))
    with ThreadPoolExecutor(max_workers=_TOOLS_AT_ONCE) as pool:
        for tool in TOOLS[fmt]:
            paths = [workdir / (r.case.name + _EXTENSION[fmt]) for r in rows]
            for row, (rejected, output) in zip(
                rows, pool.map(lambda p, t=tool: tool_verdict(t, p), paths), strict=True
            ):
                row.tools[tool], row.tool_output[tool] = rejected, output
    return rows


def allowed_disagreements(fmt: str) -> dict[str, str]:
    """kind -> reason: the damage kinds where luna knowingly differs from the deciding tool."""
    listed = tomllib.loads(ALLOW_LIST.read_text())
    return {entry["kind"]: " ".join(entry["reason"].split()) for entry in listed.get(fmt, [])}


def disagreements(fmt: str, rows: Sequence[Verdicts]) -> list[Verdicts]:
    """Files where luna and the deciding tool differ, and the difference is not allowed."""
    tool = DECIDING_TOOL[fmt]
    allowed = allowed_disagreements(fmt)
    return [r for r in rows if r.luna != r.tools[tool] and r.case.kind not in allowed]


def confusion_table(fmt: str, rows: Sequence[Verdicts]) -> str:
    """Per reference tool, how often luna accepts/rejects what the tool accepts/rejects;
    then every disagreement with its reason (allowed or not)."""
    lines = [f"{fmt}: {len(rows)} files ({sum(r.case.kind == 'good' for r in rows)} good)"]
    for tool in TOOLS[fmt]:
        counts = {(a, b): 0 for a in (False, True) for b in (False, True)}
        for r in rows:
            counts[(r.luna, r.tools[tool])] += 1
        lines += [
            f"  luna vs {tool}{' (deciding)' if tool == DECIDING_TOOL[fmt] else ''}:",
            f"    {'':16}{tool + ' accepts':>18}{tool + ' rejects':>18}",
            f"    {'luna accepts':16}{counts[(False, False)]:>18}{counts[(False, True)]:>18}",
            f"    {'luna rejects':16}{counts[(True, False)]:>18}{counts[(True, True)]:>18}",
        ]
    allowed = allowed_disagreements(fmt)
    tool = DECIDING_TOOL[fmt]
    differ = [r for r in rows if r.luna != r.tools[tool]]
    lines.append(f"  disagreements with {tool}: {len(differ)}")
    for r in differ:
        side = "luna rejects" if r.luna else "luna accepts"
        note = f"allowed: {allowed[r.case.kind]}" if r.case.kind in allowed else "NOT ALLOWED"
        lines.append(f"    {r.case.name} ({side}) [{note}]")
        lines.append(f"      luna: {r.luna_reason or 'accepted'}")
        lines.append(f"      {tool}: {r.tool_output[tool][-160:] or 'no output'}")
    return "\n".join(lines)

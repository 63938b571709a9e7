"""The verdict and the findings as a team member reads them: a table grouped by rule.

    print(render_status(status, server_url="http://luna.example"))
    print(render_local_findings(findings))

Each rule's findings sit together, in the server's (the contract's) order; a rule with more
findings than the status body carries says how many more, and where to get them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from luna.client.progress import format_bytes
from luna.validation import Finding

HEADERS = ("RULE", "SEVERITY", "FILE", "ROW", "MESSAGE")
# Long paths are shortened in the middle: the folder's start and the file's name both help.
MAX_FILE_CHARS = 48


def render_status(status: Mapping[str, Any], *, server_url: str) -> str:
    """A finished job's status body, as text."""
    dataset_id = status.get("dataset_id")
    if status.get("status") == "failed":
        reason = status.get("error_message") or "no reason was given"
        return (
            f"dataset {dataset_id}: validation could not run: {reason}\n"
            "This is a problem on the platform's side, not in your dataset: try again later "
            "or tell the organisers."
        )
    results = status.get("validation_results") or {}
    verdict = str(results.get("verdict", "unknown"))
    lines = [_verdict_line(dataset_id, verdict, results)]
    findings = results.get("findings") or []
    if findings:
        totals = results.get("findings_total") or {}
        lines += ["", *findings_table(findings, totals=totals)]
        if any(totals.get(rule, 0) > shown for rule, shown in _counts(findings).items()):
            lines += [
                "",
                f"Every finding: GET {server_url.rstrip('/')}/api/v1/validation/{dataset_id}"
                "/findings?rule=RULE (paginated with limit= and cursor=)",
            ]
    return "\n".join(lines)


def render_local_findings(findings: Sequence[Finding], *, stopped: bool) -> str:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    head = (
        f"The manifest check on your disk found {_plural(errors, 'error')} and "
        f"{_plural(warnings, 'warning')}"
    )
    lines = [head + (": nothing was uploaded." if stopped else "."), ""]
    lines += findings_table([f.as_dict() for f in findings], totals={})
    if stopped:
        lines += [
            "",
            "Fix them and run luna submit again (--force uploads anyway, so the server judges "
            "the images too).",
        ]
    return "\n".join(lines)


def _verdict_line(dataset_id: Any, verdict: str, results: Mapping[str, Any]) -> str:
    summary = results.get("summary") or {}
    stats = results.get("stats") or {}
    facts = [
        f"{_plural(int(summary.get('errors', 0)), 'error')}, "
        f"{_plural(int(summary.get('warnings', 0)), 'warning')}"
    ]
    if "images" in stats:
        facts.append(_plural(int(stats["images"]), "image"))
    if "patients" in stats:
        facts.append(_plural(int(stats["patients"]), "patient"))
    if "bytes" in stats:
        facts.append(format_bytes(int(stats["bytes"])))
    ruleset = results.get("ruleset", "")
    return f"dataset {dataset_id}: {verdict.upper()} by ruleset {ruleset} ({'; '.join(facts)})"


def findings_table(
    findings: Iterable[Mapping[str, Any]], *, totals: Mapping[str, int]
) -> list[str]:
    """Rows grouped by rule (first appearance order); rule and severity shown once a group."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for f in findings:
        groups.setdefault(str(f.get("rule", "?")), []).append(f)
    rows: list[tuple[str, str, str, str, str]] = []
    for rule, members in groups.items():
        for index, f in enumerate(members):
            rows.append(
                (
                    rule if index == 0 else "",
                    str(f.get("severity", "")) if index == 0 else "",
                    _short(str(f.get("file") or "")),
                    "" if f.get("row") is None else str(f["row"]),
                    str(f.get("message", "")),
                )
            )
        more = int(totals.get(rule, len(members))) - len(members)
        if more > 0:
            rows.append(("", "", f"... and {more} more", "", ""))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS[:4])]

    def line(cells: Sequence[str]) -> str:
        left = "  ".join(
            cell.rjust(widths[i]) if i == 3 else cell.ljust(widths[i])
            for i, cell in enumerate(cells[:4])
        )
        return f"{left}  {cells[4]}".rstrip()

    return [line(HEADERS), *(line(r) for r in rows)]


def _counts(findings: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        rule = str(f.get("rule", "?"))
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def _short(path: str) -> str:
    if len(path) <= MAX_FILE_CHARS:
        return path
    keep = MAX_FILE_CHARS - 3
    return path[: keep // 2] + "..." + path[-(keep - keep // 2) :]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"

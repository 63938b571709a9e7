"""The whole ruleset through the real service: every catalogue dataset is uploaded to S3,
validated by the in-process validator actors, and judged from its status body.

One app serves the whole catalogue (starting one per dataset would cost a second each); the
datasets are uploaded concurrently, and every mismatch is collected so one failing run shows
all of them at once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from factories import DATASETS, DatasetSpec
from support import login, upload, wait_for_status

from luna import constants
from luna.validation import SEVERITY

# Uploads in flight at once: enough to keep both validators fed, few enough for 2 cores.
UPLOADS_IN_FLIGHT = 6
# Rules judged on a manifest row (the header is row 1) must say which row.
ROW_RULES = frozenset(
    {
        "manifest.missing_column",
        "manifest.duplicate_row",
        "manifest.unknown_file",
        "manifest.bad_label",
        "manifest.bad_patient_id",
        "manifest.bad_split",
        "manifest.bad_view",
    }
)
# Rules about the dataset as a whole, which no single file can carry.
FILELESS_RULES = frozenset({"manifest.missing", "dataset.empty"})


def finding_problems(finding: dict[str, Any]) -> list[str]:
    """What is wrong with one finding's shape, in words; empty when it is well formed."""
    problems = []
    missing = {"rule", "severity", "file", "row", "message"} - set(finding)
    if missing:
        return [f"keys {sorted(missing)} absent"]
    rule = finding["rule"]
    if rule not in SEVERITY:
        return [f"unknown rule {rule!r}"]
    if finding["severity"] != SEVERITY[rule]:
        problems.append(f"severity {finding['severity']!r}, the ruleset says {SEVERITY[rule]!r}")
    if not isinstance(finding["message"], str) or not finding["message"].strip():
        problems.append("empty message")
    if rule in FILELESS_RULES:
        if finding["file"] is not None:
            problems.append(f"file {finding['file']!r} on a dataset-wide rule")
    elif not isinstance(finding["file"], str) or not finding["file"]:
        problems.append(f"file {finding['file']!r}")
    if rule in ROW_RULES and not (isinstance(finding["row"], int) and finding["row"] >= 1):
        problems.append(f"row {finding['row']!r} on a manifest row rule")
    return problems


def status_problems(spec: DatasetSpec, status: dict[str, Any]) -> list[str]:
    """Every way `status` differs from what the catalogue says of `spec`."""
    if status["status"] != "completed":
        return [f"status {status['status']!r}: {status['error_message']}"]
    results = status["validation_results"]
    totals: dict[str, int] = results["findings_total"]
    findings: list[dict[str, Any]] = results["findings"]
    problems = []
    if set(totals) != spec.expected_rules:
        problems.append(
            f"rules {sorted(totals)}, expected {sorted(spec.expected_rules)}"
            f" (missing {sorted(spec.expected_rules - set(totals))},"
            f" unexpected {sorted(set(totals) - spec.expected_rules)})"
        )
    if results["verdict"] != spec.verdict:
        problems.append(f"verdict {results['verdict']!r}, expected {spec.verdict!r}")
    shown = Counter(f.get("rule") for f in findings)
    capped = {r: min(n, constants.FINDINGS_PER_RULE_IN_STATUS) for r, n in totals.items()}
    if dict(shown) != capped:
        problems.append(f"findings shown per rule {dict(shown)}, totals capped {capped}")
    by_severity = Counter(SEVERITY.get(rule, "?") for rule, n in totals.items() for _ in range(n))
    summary = {"errors": by_severity["error"], "warnings": by_severity["warning"]}
    if results["summary"] != summary:
        problems.append(f"summary {results['summary']}, findings_total says {summary}")
    for finding in findings:
        problems += [f"{finding.get('rule')} finding: {p}" for p in finding_problems(finding)]
    # Per-file facts exist for what reached storage; a missing file has none to give.
    if {f["filename"] for f in results["files"]} != set(spec.stored):
        problems.append(f"files {sorted(f['filename'] for f in results['files'])}")
    declared = {d["filename"] for d in spec.declared}
    if status["progress"] != {"files_done": len(declared), "files_total": len(declared)}:
        problems.append(f"progress {status['progress']}")
    return problems


async def test_every_catalogue_dataset_gets_exactly_its_rules_through_the_service(
    make_client, add_account
):
    account = await add_account("alice", team="red")
    # One team sends the whole catalogue, more datasets than a team may start in a day.
    client = await make_client(luna_validators=2, luna_quota_datasets_per_day=len(DATASETS))
    headers = await login(client, account)
    slots = asyncio.Semaphore(UPLOADS_IN_FLIGHT)

    async def submit(spec: DatasetSpec) -> int:
        async with slots:
            return await upload(
                client,
                headers,
                spec.stored,
                declared=spec.upload_start_body()["files"],
                name=spec.name,
            )

    async with asyncio.TaskGroup() as group:
        submitted = {name: group.create_task(submit(spec)) for name, spec in DATASETS.items()}
    ids = {name: task.result() for name, task in submitted.items()}

    mismatches = []
    for name, dataset_id in ids.items():
        # Polled one by one: by the time the first is settled most others are too.
        status = await wait_for_status(client, dataset_id, headers, timeout_s=120)
        mismatches += [f"{name}: {p}" for p in status_problems(DATASETS[name], status)]
    assert not mismatches, f"{len(mismatches)} mismatch(es):\n" + "\n".join(mismatches)


def test_the_catalogue_covers_every_rule_and_clean_variants_expect_nothing():
    # What the end-to-end test above proves is only as wide as the catalogue it walks.
    covered = {rule for spec in DATASETS.values() for rule in spec.expected_rules}
    assert covered == set(SEVERITY)
    clean = [spec for spec in DATASETS.values() if spec.name.startswith("clean-")]
    assert len(clean) >= 10
    assert all(spec.expected_rules == frozenset() and spec.accepted for spec in clean)

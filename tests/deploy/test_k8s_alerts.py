"""The PrometheusRule: the alerts the issue asks for, valid PromQL, metrics luna really exports."""

from __future__ import annotations

import re
from typing import Any

import pytest

from luna.observability import Metrics

from .conftest import REPO, Rendered, python_module

REQUIRED_ALERTS = {
    "LunaApiErrorRate",
    "LunaApiLatencyP95",
    "LunaQueueBacklog",
    "LunaOldestJobAge",
    "LunaWorkerDown",
    "LunaValidationFailureRate",
}
# Series every Prometheus scrape adds by itself.
SCRAPE_SERIES = {"up"}
# Alerts written ahead of a metric luna does not export yet (none today).
NOT_YET_EXPORTED: set[str] = set()
_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def _rules(manifests: Rendered) -> list[dict[str, Any]]:
    (rule,) = manifests.of_kind("PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def _metric_names(expr: str) -> set[str]:
    promql = python_module("promql_parser", package="promql-parser")
    names: set[str] = set()

    def visit(node: object) -> bool:
        if isinstance(node, promql.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql.walk(promql.parse(expr), visit)
    return names


def _exported() -> set[str]:
    names: set[str] = set()
    for name, collector in Metrics().registry.collectors.items():
        names.add(name)
        if type(collector).__name__ == "Histogram":
            names |= {name + suffix for suffix in _HISTOGRAM_SUFFIXES}
    return names


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_every_alert_the_issue_names_is_there(manifests: Rendered) -> None:
    alerts = {r["alert"] for r in _rules(manifests) if "alert" in r}
    assert alerts >= REQUIRED_ALERTS


def test_every_expression_is_valid_promql(manifests: Rendered) -> None:
    for rule in _rules(manifests):
        assert _metric_names(rule["expr"]), rule.get("alert")


def test_alerts_use_only_metrics_luna_exports(manifests: Rendered) -> None:
    available = _exported() | SCRAPE_SERIES | NOT_YET_EXPORTED
    for rule in _rules(manifests):
        unknown = _metric_names(rule["expr"]) - available
        assert not unknown, f"{rule.get('alert')}: luna exports no {sorted(unknown)}"


def test_invalid_promql_is_refused() -> None:
    with pytest.raises(ValueError):
        _metric_names("sum(rate(http_requests_total[5m])")


def test_every_alert_has_a_severity_and_a_runbook_section(manifests: Rendered) -> None:
    anchors = _anchors((REPO / "docs" / "deploy.md").read_text())
    for rule in _rules(manifests):
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/deploy.md" and anchor in anchors, rule["alert"]

"""The Grafana dashboard: shipped as a ConfigMap Grafana's sidecar loads, every panel's PromQL
valid and made only of metrics luna exports (or the scrape and kube-state-metrics series it
names on purpose), and a panel for each thing the organisers watch."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Rendered
from .test_k8s_alerts import SCRAPE_SERIES, _exported, _metric_names

# The autoscalers' replicas come from kube-state-metrics, not from luna.
KUBE_STATE_SERIES = {
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
}
# Each thing the dashboard must show, as a word of some panel's title.
REQUIRED_TOPICS = (
    "request rate",
    "error rate",
    "latency p50",
    "latency p95",
    "queue length",
    "oldest",
    "validations per minute",
    "validation duration",
    "uploaded",
    "live validators",
    "autoscaler replicas",
)


def _dashboard(manifests: Rendered) -> dict[str, Any]:
    maps = [
        m
        for m in manifests.of_kind("ConfigMap")
        if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(maps) == 1, "one ConfigMap labelled grafana_dashboard=1"
    (text,) = maps[0]["data"].values()
    return json.loads(text)


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def test_the_dashboard_ships_as_a_configmap_the_sidecar_loads(manifests: Rendered) -> None:
    dashboard = _dashboard(manifests)
    assert dashboard["uid"] and dashboard["title"] == "luna"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_panel_query_is_valid_promql_over_metrics_luna_exports(manifests: Rendered) -> None:
    available = _exported() | SCRAPE_SERIES | KUBE_STATE_SERIES
    targets = _targets(_dashboard(manifests))
    assert targets
    for title, expr in targets:
        names = _metric_names(expr)  # raises on invalid PromQL
        assert names, title
        unknown = names - available
        assert not unknown, f"{title}: luna exports no {sorted(unknown)}"


def test_every_topic_has_a_panel(manifests: Rendered) -> None:
    titles = " | ".join(p["title"].lower() for p in _dashboard(manifests)["panels"])
    missing = [topic for topic in REQUIRED_TOPICS if topic not in titles]
    assert not missing, f"no panel for {missing}"

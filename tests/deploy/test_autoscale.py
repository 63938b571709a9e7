"""The HPA rule the autoscale simulation runs, checked against the controller's behaviour."""

from __future__ import annotations

import yaml

from luna.autoscale import Autoscaler, Direction, Policy, ScalingRule, raw_recommendation

from .conftest import REPO


def _worker_hpa() -> dict:
    documents = yaml.safe_load_all((REPO / "k8s" / "base" / "autoscaling.yaml").read_text())
    (hpa,) = [d for d in documents if d["metadata"]["name"] == "luna-worker"]
    return hpa


def _rule(**changes: object) -> ScalingRule:
    rule = ScalingRule(
        min_replicas=1,
        max_replicas=10,
        target_per_replica=4,
        up=Direction(window_s=0, policies=(Policy("Pods", 4, 30), Policy("Percent", 100, 30))),
        down=Direction(window_s=600, policies=(Policy("Pods", 1, 60),), select="Min"),
    )
    return ScalingRule(**{**rule.__dict__, **changes})


def test_rule_is_read_from_the_worker_hpa_manifest() -> None:
    rule = ScalingRule.from_hpa(_worker_hpa(), time_scale=0.1)
    assert (rule.min_replicas, rule.max_replicas, rule.target_per_replica) == (1, 10, 4.0)
    assert rule.up.window_s == 0 and rule.down.window_s == 60.0
    assert Policy("Pods", 1, 6.0) in rule.down.policies
    assert rule.down.select == "Min" and rule.up.select == "Max"


def test_desired_is_the_backlog_over_the_target_outside_the_tolerance() -> None:
    rule = _rule()
    assert raw_recommendation(rule, current=2, metric=37) == 10  # ceil(37 / 4)
    assert raw_recommendation(rule, current=2, metric=8.5) == 2  # 6 % off target: keep
    assert raw_recommendation(rule, current=3, metric=0) == 0  # bounds come later
    assert raw_recommendation(rule, current=0, metric=40) == 0  # scaled to zero: left alone


def test_a_burst_scales_up_at_once_within_the_rate_policies() -> None:
    autoscaler = Autoscaler(_rule())
    # From 1: Pods allows 1 + 4, Percent allows 2; selectPolicy Max takes 5.
    assert autoscaler.decide(current=1, metric=40, now_s=0) == 5
    # Within the same 30 s the 4 pods already added count against the policy.
    assert autoscaler.decide(current=5, metric=40, now_s=10) == 5
    assert autoscaler.decide(current=5, metric=40, now_s=31) == 10
    assert autoscaler.decide(current=10, metric=400, now_s=70) == 10  # maxReplicas


def test_scale_down_waits_for_the_window_then_removes_one_pod_a_minute() -> None:
    autoscaler = Autoscaler(_rule())
    assert autoscaler.decide(current=4, metric=16, now_s=0) == 4
    # The queue empties: the highest recommendation of the last 600 s still says 4.
    assert autoscaler.decide(current=4, metric=0, now_s=15) == 4
    assert autoscaler.decide(current=4, metric=0, now_s=590) == 4
    assert autoscaler.decide(current=4, metric=0, now_s=601) == 3
    assert autoscaler.decide(current=3, metric=0, now_s=630) == 3  # 1 pod per 60 s
    assert autoscaler.decide(current=3, metric=0, now_s=662) == 2
    assert autoscaler.decide(current=2, metric=0, now_s=723) == 1
    assert autoscaler.decide(current=1, metric=0, now_s=800) == 1  # minReplicas


def test_a_short_dip_in_the_backlog_does_not_remove_workers() -> None:
    autoscaler = Autoscaler(_rule())
    assert autoscaler.decide(current=6, metric=24, now_s=0) == 6
    assert autoscaler.decide(current=6, metric=2, now_s=30) == 6
    assert autoscaler.decide(current=6, metric=24, now_s=60) == 6


def test_disabled_direction_never_moves() -> None:
    rule = _rule(down=Direction(window_s=0, policies=(Policy("Pods", 1, 60),), select="Disabled"))
    assert Autoscaler(rule).decide(current=5, metric=0, now_s=0) == 5

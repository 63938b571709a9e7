"""The Kubernetes HorizontalPodAutoscaler's rule, as a pure function of time and the metric.

What `scripts/autoscale_sim.py` runs against the real queue, so the worker HPA in
`k8s/base/autoscaling.yaml` can be tuned on one machine. It follows the controller's algorithm
for an External metric with an `AverageValue` target:

    desired   = ceil(current * metric / (target * current)) = ceil(metric / target)
                (unchanged while metric / (target * current) is within 10 % of 1)
    stabilize = scale up to the lowest, down to the highest recommendation in each window
    rate      = the scale-up / scale-down policies (Pods or Percent per period), then
                [minReplicas, maxReplicas]

    rule = ScalingRule.from_hpa(manifest, time_scale=0.05)
    autoscaler = Autoscaler(rule)
    replicas = autoscaler.decide(current=2, metric=37.0, now_s=time.monotonic())
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Literal

# kube-controller-manager's --horizontal-pod-autoscaler-tolerance default.
DEFAULT_TOLERANCE = 0.1
# Kubernetes' defaults when an HPA gives no `behavior` (autoscaling/v2 API reference).
DEFAULT_SCALE_DOWN_WINDOW_S = 300.0


@dataclass(frozen=True)
class Policy:
    """At most `value` pods (or percent) changed within any `period_s`."""

    kind: Literal["Pods", "Percent"]
    value: int
    period_s: float


@dataclass(frozen=True)
class Direction:
    """The behavior for one direction: stabilization window and rate policies."""

    window_s: float
    policies: tuple[Policy, ...]
    select: Literal["Max", "Min", "Disabled"] = "Max"


@dataclass(frozen=True)
class ScalingRule:
    """What one HPA says: bounds, the target per replica, and its behavior."""

    min_replicas: int
    max_replicas: int
    target_per_replica: float
    up: Direction
    down: Direction
    tolerance: float = DEFAULT_TOLERANCE

    @classmethod
    def from_hpa(cls, hpa: dict[str, Any], *, time_scale: float = 1.0) -> ScalingRule:
        """Read an autoscaling/v2 HPA with one External AverageValue metric.

        `time_scale` shrinks every window and period (0.05: ten minutes become thirty
        seconds), so a run on a laptop shows in minutes what a cluster does in an hour.
        """
        spec = hpa["spec"]
        (metric,) = spec["metrics"]
        target = metric["external"]["target"]
        if target["type"] != "AverageValue":
            raise ValueError("only an AverageValue target is simulated")
        behavior = spec.get("behavior", {})
        return cls(
            min_replicas=int(spec.get("minReplicas", 1)),
            max_replicas=int(spec["maxReplicas"]),
            target_per_replica=float(target["averageValue"]),
            up=_direction(behavior.get("scaleUp"), _default_up(), time_scale=time_scale),
            down=_direction(behavior.get("scaleDown"), _default_down(), time_scale=time_scale),
        )


def _default_up() -> Direction:
    return Direction(
        window_s=0.0,
        policies=(Policy("Percent", 100, 15.0), Policy("Pods", 4, 15.0)),
        select="Max",
    )


def _default_down() -> Direction:
    return Direction(window_s=DEFAULT_SCALE_DOWN_WINDOW_S, policies=(Policy("Percent", 100, 15.0),))


def _direction(rules: dict[str, Any] | None, default: Direction, *, time_scale: float) -> Direction:
    direction = default
    if rules is not None:
        direction = replace(
            default,
            window_s=float(rules.get("stabilizationWindowSeconds", default.window_s)),
            select=rules.get("selectPolicy", default.select),
        )
        if "policies" in rules:
            direction = replace(
                direction,
                policies=tuple(
                    Policy(p["type"], int(p["value"]), float(p["periodSeconds"]))
                    for p in rules["policies"]
                ),
            )
    return replace(
        direction,
        window_s=direction.window_s * time_scale,
        policies=tuple(replace(p, period_s=p.period_s * time_scale) for p in direction.policies),
    )


def raw_recommendation(rule: ScalingRule, *, current: int, metric: float) -> int:
    """The replica count the metric asks for, before stabilization and rate limits."""
    if current == 0:
        return current  # the controller leaves a target scaled to zero alone
    usage_ratio = metric / (rule.target_per_replica * current)
    if abs(usage_ratio - 1.0) <= rule.tolerance:
        return current
    # ceil(current * usage_ratio), computed without the float round trip through the ratio.
    return math.ceil(metric / rule.target_per_replica)


@dataclass
class Autoscaler:
    """One HPA's memory: past recommendations (stabilization) and scale events (rate limits)."""

    rule: ScalingRule
    _recommendations: deque[tuple[float, int]] = field(default_factory=deque)
    _events: deque[tuple[float, int]] = field(default_factory=deque)

    def decide(self, *, current: int, metric: float, now_s: float) -> int:
        """The replica count to set now; record it as a scale event when it changes."""
        if current == 0:
            return 0
        raw = raw_recommendation(self.rule, current=current, metric=metric)
        stabilized = self._stabilize(raw, current=current, now_s=now_s)
        desired = self._limit_rate(stabilized, current=current, now_s=now_s)
        if desired != current:
            self._events.append((now_s, desired - current))
        return desired

    def _stabilize(self, raw: int, *, current: int, now_s: float) -> int:
        up_cutoff = now_s - self.rule.up.window_s
        down_cutoff = now_s - self.rule.down.window_s
        up_floor = down_ceiling = raw
        for at_s, recommended in self._recommendations:
            if at_s > up_cutoff:
                up_floor = min(up_floor, recommended)
            if at_s > down_cutoff:
                down_ceiling = max(down_ceiling, recommended)
        self._recommendations.append((now_s, raw))
        oldest_kept_s = now_s - max(self.rule.up.window_s, self.rule.down.window_s)
        while self._recommendations and self._recommendations[0][0] <= oldest_kept_s:
            self._recommendations.popleft()
        return min(max(current, up_floor), down_ceiling)

    def _changed_within(self, period_s: float, *, now_s: float, sign: int) -> int:
        return sum(
            delta for at_s, delta in self._events if at_s > now_s - period_s and delta * sign > 0
        )

    def _limit_rate(self, desired: int, *, current: int, now_s: float) -> int:
        rule = self.rule
        if desired > current:
            if rule.up.select == "Disabled":
                return current
            limits = []
            for policy in rule.up.policies:
                start = current - self._changed_within(policy.period_s, now_s=now_s, sign=1)
                if policy.kind == "Pods":
                    limits.append(start + policy.value)
                else:
                    limits.append(math.ceil(start * (1 + policy.value / 100)))
            limit = max(limits) if rule.up.select == "Max" else min(limits)
            return max(min(desired, limit, rule.max_replicas), rule.min_replicas)
        if desired < current:
            if rule.down.select == "Disabled":
                return current
            limits = []
            for policy in rule.down.policies:
                start = current - self._changed_within(policy.period_s, now_s=now_s, sign=-1)
                if policy.kind == "Pods":
                    limits.append(start - policy.value)
                else:
                    limits.append(math.floor(start * (1 - policy.value / 100)))
            limit = min(limits) if rule.down.select == "Max" else max(limits)
            return min(max(desired, limit, rule.min_replicas), rule.max_replicas)
        return max(min(desired, rule.max_replicas), rule.min_replicas)

"""Policy over the rendered manifests: what a reviewer would check by hand on every change."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from luna.settings import Settings

from .conftest import REPO, Rendered

# Environment variables luna reads that are not `Settings` fields.
EXTRA_ENV = {"LUNA_SQL_DIR"}


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", selector)
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _settings_env_names() -> set[str]:
    names = {name.upper() for name in Settings.model_fields}
    names |= {"AMQP_URL", "CELERY_BROKER_URL"}
    return names | EXTRA_ENV


def test_every_long_running_container_has_startup_liveness_and_readiness_probes(
    manifests: Rendered,
) -> None:
    for deployment in manifests.of_kind("Deployment"):
        for container in _containers(deployment["spec"]["template"]):
            probes = {
                p: container.get(p, {}).get("httpGet", {}).get("path")
                for p in ("startupProbe", "livenessProbe", "readinessProbe")
            }
            where = f"{deployment['metadata']['name']}/{container['name']}"
            # Liveness never asks the database: a database outage must not restart every pod.
            assert probes == {
                "startupProbe": "/liveness",
                "livenessProbe": "/liveness",
                "readinessProbe": "/readiness",
            }, where


def test_every_container_has_requests_and_limits(manifests: Rendered) -> None:
    for owner, pod in manifests.pod_templates():
        for container in _containers(pod):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert set(resources.get(kind, {})) >= {"cpu", "memory"}, (
                    f"{owner['metadata']['name']}/{container['name']}: no {kind}"
                )


def test_every_pod_runs_as_non_root_with_a_read_only_root_and_no_privileges(
    manifests: Rendered,
) -> None:
    for owner, pod in manifests.pod_templates():
        pod_security = pod["spec"].get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True
        assert pod_security.get("runAsUser", 0) > 0
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        assert pod["spec"].get("automountServiceAccountToken") is False
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        for container in _containers(pod):
            where = f"{owner['metadata']['name']}/{container['name']}"
            security = container.get("securityContext", {})
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            assert "add" not in security.get("capabilities", {}), where
            assert security.get("privileged") is not True, where
            # With a read-only root, /tmp is the one writable place (LUNA_DATA_DIR lives there).
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and "emptyDir" in volumes[tmp[0]["name"]], f"{where}: no emptyDir on /tmp"


def test_pods_run_as_the_user_the_image_creates(manifests: Rendered) -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    uid = re.search(r"^ARG LUNA_UID=(\d+)$", dockerfile, re.MULTILINE)
    assert uid is not None
    for owner, pod in manifests.pod_templates():
        context = pod["spec"]["securityContext"]
        assert context["runAsUser"] == context["runAsGroup"] == int(uid.group(1)), owner


def test_every_deployment_has_a_disruption_budget(manifests: Rendered) -> None:
    budgets = manifests.of_kind("PodDisruptionBudget")
    for deployment in manifests.of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if _selects(b["spec"]["selector"], labels)]
        assert len(covering) == 1, deployment["metadata"]["name"]


def test_every_secret_and_config_map_reference_exists(manifests: Rendered) -> None:
    secrets, config_maps = manifests.names("Secret"), manifests.names("ConfigMap")
    referenced: list[tuple[str, str]] = []
    for _, pod in manifests.pod_templates():
        for container in _containers(pod):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    referenced.append(("Secret", source["secretRef"]["name"]))
                if "configMapRef" in source:
                    referenced.append(("ConfigMap", source["configMapRef"]["name"]))
            for variable in container.get("env", []):
                value_from = variable.get("valueFrom", {})
                if "secretKeyRef" in value_from:
                    referenced.append(("Secret", value_from["secretKeyRef"]["name"]))
                if "configMapKeyRef" in value_from:
                    referenced.append(("ConfigMap", value_from["configMapKeyRef"]["name"]))
        for volume in pod["spec"].get("volumes", []):
            if "secret" in volume:
                referenced.append(("Secret", volume["secret"]["secretName"]))
            if "configMap" in volume:
                referenced.append(("ConfigMap", volume["configMap"]["name"]))
    for auth in manifests.of_kind("TriggerAuthentication"):
        referenced += [("Secret", ref["name"]) for ref in auth["spec"]["secretTargetRef"]]
    assert referenced
    for kind, name in referenced:
        assert name in (secrets if kind == "Secret" else config_maps), f"{kind} {name} missing"


def test_configuration_keys_are_settings_luna_reads(manifests: Rendered) -> None:
    """A misspelt variable is silently ignored by luna; here it is a failure."""
    known = _settings_env_names()
    for obj in [*manifests.of_kind("ConfigMap"), *manifests.of_kind("Secret")]:
        if "grafana_dashboard" in obj["metadata"].get("labels", {}):
            continue  # Grafana's, not luna's configuration (test_grafana_dashboard.py)
        keys = set(obj.get("data", {})) | set(obj.get("stringData", {}))
        assert keys <= known, f"{obj['metadata']['name']}: unknown {sorted(keys - known)}"
    for _, pod in manifests.pod_templates():
        for container in _containers(pod):
            names = {variable["name"] for variable in container.get("env", [])}
            assert names <= known, f"unknown {sorted(names - known)}"


def test_committed_secrets_are_placeholders(manifests: Rendered) -> None:
    import base64

    for secret in manifests.of_kind("Secret"):
        for key, encoded in secret.get("data", {}).items():
            value = base64.b64decode(encoded).decode()
            assert "CHANGE-ME" in value, f"{secret['metadata']['name']}.{key} looks real"


def test_every_pod_is_denied_by_default_and_allowed_only_by_its_own_policy(
    manifests: Rendered,
) -> None:
    policies = manifests.of_kind("NetworkPolicy")
    deny = [
        p
        for p in policies
        if set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(deny) == 1
    for owner, pod in manifests.pod_templates():
        labels = pod["metadata"]["labels"]
        assert _selects(deny[0]["spec"]["podSelector"], labels), owner["metadata"]["name"]
        own = [p for p in policies if p not in deny and _selects(p["spec"]["podSelector"], labels)]
        assert len(own) == 1, owner["metadata"]["name"]
        egress_ports = {
            port["port"] for rule in own[0]["spec"]["egress"] for port in rule.get("ports", [])
        }
        assert 5432 in egress_ports and 53 in egress_ports
        if owner["kind"] == "Job":
            # Migrations talk to PostgreSQL and nothing else.
            assert egress_ports == {53, 5432}
            assert not own[0]["spec"].get("ingress")


def _autoscalers_of(manifests: Rendered, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    name = deployment["metadata"]["name"]
    return [
        obj
        for obj in manifests.objects
        if obj["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")
        and obj["spec"]["scaleTargetRef"]["name"] == name
        and obj["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    ]


def test_workers_scale_on_queue_length_and_the_api_on_cpu(manifests: Rendered) -> None:
    worker = manifests.deployment_by_mode("worker")
    api = manifests.deployment_by_mode("serve")
    # Two autoscalers on one Deployment fight; the replica count is theirs, not the manifest's.
    for deployment in (worker, api):
        assert len(_autoscalers_of(manifests, deployment)) == 1
        assert "replicas" not in deployment["spec"]

    (worker_scaler,) = _autoscalers_of(manifests, worker)
    if worker_scaler["kind"] == "HorizontalPodAutoscaler":
        assert worker_scaler["spec"]["metrics"] == [
            {
                "type": "External",
                "external": {
                    "metric": {"name": "validation_queue_length"},
                    "target": {"type": "AverageValue", "averageValue": "4"},
                },
            }
        ]
    else:
        (trigger,) = worker_scaler["spec"]["triggers"]
        (config,) = [c["data"] for c in manifests.of_kind("ConfigMap") if "LUNA_QUEUE" in c["data"]]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"] == config["LUNA_QUEUE"]
        assert trigger["metadata"]["mode"] == "QueueLength"

    (api_scaler,) = _autoscalers_of(manifests, api)
    assert api_scaler["kind"] == "HorizontalPodAutoscaler"
    assert api_scaler["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert api_scaler["spec"]["minReplicas"] >= 2


def test_keda_overlay_replaces_the_worker_hpa(rendered: dict[str, Rendered]) -> None:
    keda = rendered["overlays/example-keda"]
    worker = keda.deployment_by_mode("worker")
    assert [s["kind"] for s in _autoscalers_of(keda, worker)] == ["ScaledObject"]
    assert "luna-worker" in rendered["overlays/example"].names("HorizontalPodAutoscaler")


def test_termination_grace_outlasts_the_drain(manifests: Rendered) -> None:
    (config,) = [c for c in manifests.of_kind("ConfigMap") if "LUNA_SHUTDOWN_GRACE_S" in c["data"]]
    drain_s = float(config["data"]["LUNA_SHUTDOWN_GRACE_S"])
    for deployment in manifests.of_kind("Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        pre_stop = spec["containers"][0].get("lifecycle", {}).get("preStop", {})
        sleep_s = float(pre_stop["exec"]["command"][1]) if pre_stop else 0.0
        grace_s = spec["terminationGracePeriodSeconds"]
        assert grace_s >= sleep_s + drain_s + 10, deployment["metadata"]["name"]


def test_services_reach_their_pods_on_named_ports(manifests: Rendered) -> None:
    for service in manifests.of_kind("Service"):
        pods = [
            pod
            for _, pod in manifests.pod_templates()
            if _selects(service["spec"]["selector"], pod["metadata"]["labels"])
        ]
        assert pods, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            for pod in pods:
                names = {p.get("name") for c in pod["spec"]["containers"] for p in c["ports"]}
                assert port["targetPort"] in names


def test_one_image_runs_every_mode(manifests: Rendered) -> None:
    images = {c["image"] for _, pod in manifests.pod_templates() for c in _containers(pod)}
    assert len(images) == 1
    modes = {c["args"][0] for _, pod in manifests.pod_templates() for c in _containers(pod)}
    assert modes == {"serve", "worker", "migrate"}


@pytest.mark.parametrize("path", sorted((REPO / "k8s").rglob("*.yaml")), ids=str)
def test_no_manifest_pins_a_latest_tag(path: Path) -> None:
    assert ":latest" not in path.read_text()

"""Rendered manifests against the Kubernetes API schemas, and custom resources against their own.

kubernetes-validate knows only core kinds: for a custom resource it prints a warning and passes.
Those kinds are named here, checked against `crd_schemas.yaml`, and any other warning (a
misspelled apiVersion looks exactly like a CRD to it) fails the check.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import Rendered, tool

# The Kubernetes minor versions luna's manifests are validated for (docs/deploy.md).
KUBERNETES_VERSIONS = tuple(f"1.{minor}.0" for minor in range(29, 38))
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}
_NO_SCHEMA = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+) for")
_SCHEMAS = yaml.safe_load((Path(__file__).parent / "crd_schemas.yaml").read_text())


def _canonical(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True)


@pytest.fixture(scope="session")
def validation(
    rendered: dict[str, Rendered], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every distinct rendered object, and kubernetes-validate's output lines for them.

    The overlays repeat most objects unchanged, so each distinct object is checked once. The
    versions are split over two processes: the tool reloads a 2 MB schema per object and version.
    """
    validate = tool("kubernetes-validate")
    distinct = {_canonical(obj): obj for r in rendered.values() for obj in r.objects}
    objects = list(distinct.values())
    path = tmp_path_factory.mktemp("rendered") / "all.yaml"
    # A file, not stdin: the tool reads stdin once, for the first version only.
    path.write_text(yaml.safe_dump_all(objects))
    halves = (KUBERNETES_VERSIONS[0::2], KUBERNETES_VERSIONS[1::2])
    running = [
        subprocess.Popen(
            [validate, "--strict", *(a for v in versions for a in ("-k", v)), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for versions in halves
    ]
    lines: list[str] = []
    for process in running:
        stdout, stderr = process.communicate(timeout=120)
        lines += stdout.splitlines()
        assert process.returncode == 0, f"{stdout}\n{stderr}"
    return objects, lines


def test_manifests_validate_strictly_for_every_supported_kubernetes_version(
    validation: tuple[list[dict[str, Any]], list[str]],
) -> None:
    objects, lines = validation
    errors = [line for line in lines if not line.startswith(("INFO", "WARN"))]
    assert not errors, "\n".join(errors)

    unknown = {(m.group(2), m.group(1)) for line in lines if (m := _NO_SCHEMA.search(line))}
    assert unknown <= CRD_KINDS, f"no schema for {sorted(unknown - CRD_KINDS)}: a typo?"
    core = [o for o in objects if (o["apiVersion"], o["kind"]) not in CRD_KINDS]
    passed = [line for line in lines if line.startswith("INFO") and " passed " in line]
    assert len(passed) == len(core) * len(KUBERNETES_VERSIONS)


def _schema_for(obj: dict[str, Any]) -> dict[str, Any]:
    schema = _SCHEMAS["schemas"][f"{obj['apiVersion']} {obj['kind']}"]
    return {**schema, "$defs": _SCHEMAS["$defs"]}


def test_every_custom_resource_matches_its_schema(manifests: Rendered) -> None:
    custom = [o for o in manifests.objects if (o["apiVersion"], o["kind"]) in CRD_KINDS]
    assert custom, f"{manifests.name} renders no custom resources"
    for obj in custom:
        jsonschema.Draft202012Validator(_schema_for(obj)).validate(obj)


def test_custom_resource_schemas_reject_a_misspelled_field(rendered: dict[str, Rendered]) -> None:
    scaled = copy.deepcopy(rendered["overlays/example-keda"].one("ScaledObject", "luna-worker"))
    scaled["spec"]["maxReplicasCount"] = scaled["spec"].pop("maxReplicaCount")
    with pytest.raises(jsonschema.ValidationError, match="maxReplicasCount"):
        jsonschema.Draft202012Validator(_schema_for(scaled)).validate(scaled)

    trigger = scaled["spec"]["triggers"][0]
    trigger["metadata"]["mode"] = "QueueLenght"
    scaled["spec"]["maxReplicaCount"] = scaled["spec"].pop("maxReplicasCount")
    with pytest.raises(jsonschema.ValidationError, match="QueueLenght"):
        jsonschema.Draft202012Validator(_schema_for(scaled)).validate(scaled)


def test_every_custom_resource_kind_has_a_schema() -> None:
    assert {tuple(key.split(" ")) for key in _SCHEMAS["schemas"]} == CRD_KINDS

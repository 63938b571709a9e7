"""Deployment checks without a cluster or a Docker engine: rendered manifests, Compose, Dockerfile.

The tools come from `scripts/install-deploy-tools.sh`. Locally a missing tool skips its tests
with the reason; under CI (`CI=true`) it fails them, so a green CI always means "checked".
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
# Every kustomization a deployment can be built from.
KUSTOMIZATIONS = ("base", "overlays/example", "overlays/example-keda")
INSTALL_HINT = "run scripts/install-deploy-tools.sh"


def missing(what: str) -> None:
    """Skip locally, fail under CI: a check that did not run must never look like a pass."""
    message = f"{what} is not installed ({INSTALL_HINT})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def tool(name: str) -> str:
    """Path of a command-line tool: the project venv's bin first, then PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        missing(name)
    assert found is not None
    return found


def python_module(name: str, *, package: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"the Python package {package}")
        raise


def render(kustomization: str) -> str:
    """`kubectl kustomize` of one kustomization, as YAML text."""
    kubectl = tool("kubectl")
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"kubectl kustomize {kustomization} failed:\n{done.stderr}"
    return done.stdout


class Rendered:
    """The objects one kustomization renders to, with look-ups the checks share."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.objects: list[dict[str, Any]] = [
            doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)
        ]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        found = [obj for obj in self.of_kind(kind) if obj["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind}/{name}, found {len(found)}"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {obj["metadata"]["name"] for obj in self.of_kind(kind)}

    def pod_templates(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(owner, pod template) for every Deployment and Job."""
        return [
            (obj, obj["spec"]["template"])
            for obj in self.objects
            if obj["kind"] in ("Deployment", "Job")
        ]

    def deployment_by_mode(self, mode: str) -> dict[str, Any]:
        """The Deployment whose container runs `python -m luna MODE`."""
        found = [
            obj
            for obj in self.of_kind("Deployment")
            if obj["spec"]["template"]["spec"]["containers"][0].get("args", [None])[0] == mode
        ]
        assert len(found) == 1, f"{self.name}: expected one `{mode}` Deployment"
        return found[0]


@pytest.fixture(scope="session")
def rendered() -> dict[str, Rendered]:
    """Every kustomization rendered once for the whole session."""
    return {name: Rendered(name, render(name)) for name in KUSTOMIZATIONS}


@pytest.fixture(params=KUSTOMIZATIONS)
def manifests(request: pytest.FixtureRequest, rendered: dict[str, Rendered]) -> Rendered:
    """Each kustomization in turn."""
    return rendered[request.param]

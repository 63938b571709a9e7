"""The Dockerfile, read without an engine: hadolint, then what the final stage must and must not be."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

import pytest

from luna import constants

from .conftest import REPO, tool

BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|make|build-essential|libc6-dev|[\w.+-]+-dev)\b")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def _instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    found = _stages(_instructions((REPO / "Dockerfile").read_text()))
    assert len(found) >= 2, "the image is built in a builder stage and copied into a final one"
    return found


@pytest.fixture(scope="module")
def final(stages: list[list[Instruction]]) -> list[Instruction]:
    return stages[-1]


def _one(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert found, f"the final stage has no {keyword}"
    return found[-1]


def _args(stage: list[Instruction]) -> dict[str, str]:
    return dict(
        i.arguments.split("=", 1) for i in stage if i.keyword == "ARG" and "=" in i.arguments
    )


def _env(stage: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            values |= dict(re.findall(r"(\w+)=(\S+)", instruction.arguments))
    return values


def test_hadolint_finds_nothing() -> None:
    hadolint = tool("hadolint")
    done = subprocess.run(
        [hadolint, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_final_stage_runs_as_a_non_root_user(final: list[Instruction]) -> None:
    user = _one(final, "USER").arguments
    uid = re.sub(r"\$\{(\w+)\}", lambda m: _args(final)[m.group(1)], user).split(":")[0]
    assert uid not in ("", "0", "root")
    assert uid.isdigit(), "a numeric uid lets Kubernetes check runAsNonRoot"
    assert any("useradd" in i.arguments for i in final if i.keyword == "RUN")


def test_final_stage_has_no_build_tools_and_installs_nothing(final: list[Instruction]) -> None:
    for instruction in final:
        if instruction.keyword == "RUN":
            assert not BUILD_TOOLS.search(instruction.arguments), instruction.arguments
            assert "pip install" not in instruction.arguments
            assert "apt-get install" not in instruction.arguments
    copies = [i.arguments for i in final if i.keyword == "COPY"]
    assert any(c.startswith("--from=builder /opt/venv") for c in copies)


def test_dependency_layer_leaves_no_stand_in_files_behind(
    stages: list[list[Instruction]],
) -> None:
    # setuptools copies a file into build/ only when the source is newer: a stand-in package's
    # leftovers would be shipped instead of the real modules.
    for stage in stages[:-1]:
        for instruction in stage:
            if instruction.keyword == "RUN" and "touch luna/__init__.py" in instruction.arguments:
                removed = instruction.arguments.rsplit("rm -rf", 1)[-1].split()
                assert {"build", "luna", "luna.egg-info"} <= set(removed)


def test_image_runs_luna_with_serve_by_default(final: list[Instruction]) -> None:
    assert json.loads(_one(final, "ENTRYPOINT").arguments) == ["python", "-m", "luna"]
    assert json.loads(_one(final, "CMD").arguments) == ["serve"]


def test_healthcheck_asks_readiness_without_curl(final: list[Instruction]) -> None:
    check = _one(final, "HEALTHCHECK").arguments
    assert "CMD" in check and "NONE" not in check
    assert "/readiness" in check and "LUNA_PORT" in check
    assert "curl" not in check and "wget" not in check


def test_stop_signal_starts_lunas_drain(final: list[Instruction]) -> None:
    assert _one(final, "STOPSIGNAL").arguments == "SIGTERM"
    assert float(_env(final)["LUNA_SHUTDOWN_GRACE_S"]) == constants.SHUTDOWN_GRACE_S


def test_migrations_ship_where_the_image_tells_luna_to_look(final: list[Instruction]) -> None:
    workdir = _one(final, "WORKDIR").arguments
    copies = [i.arguments.split() for i in final if i.keyword == "COPY"]
    assert ["sql", "./sql"] in copies
    assert _env(final)["LUNA_SQL_DIR"] == f"{workdir}/sql"
    source = (REPO / "luna" / "db" / "migrate.py").read_text()
    assert '"LUNA_SQL_DIR"' in source, "luna no longer reads LUNA_SQL_DIR"


def test_writable_data_lives_under_tmp(final: list[Instruction]) -> None:
    # Kubernetes mounts an emptyDir on /tmp; the rest of the filesystem is read-only.
    assert _env(final)["LUNA_DATA_DIR"].startswith("/tmp/")


def test_build_context_holds_only_what_the_image_needs() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!luna/", "!sql/"} <= set(rules)


def test_image_python_is_the_minor_the_tests_run_on() -> None:
    """The fault suite proves shutdown and restarts on this interpreter; the image must run
    the same minor (asyncio's cancellation bookkeeping differs between minors)."""
    import sys

    text = (REPO / "Dockerfile").read_text()
    match = re.search(r"ARG PYTHON_IMAGE=python:(\d+)\.(\d+)", text)
    assert match, "PYTHON_IMAGE must name a python:<major>.<minor> image"
    assert (int(match[1]), int(match[2])) == sys.version_info[:2]

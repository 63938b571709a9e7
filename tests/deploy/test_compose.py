"""compose.yaml as docker-compose itself reads it: valid, ordered, and consistent with luna."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from luna import constants
from luna.settings import Settings

from .conftest import REPO, tool

LUNA_SERVICES = ("migrate", "api", "worker")
_DURATION = re.compile(r"^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    compose = tool("docker-compose")
    # Only what the test sets: a developer's own JWT_SECRET_KEY or LUNA_BIND must not leak in.
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [compose, "--project-directory", str(REPO), "-f", str(REPO / "compose.yaml"), *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        cwd=REPO,
    )


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """The file as docker-compose resolves it (defaults filled in, anchors merged)."""
    done = _compose("config", env={"JWT_SECRET_KEY": "test-only-secret"})
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def _seconds(duration: str) -> float:
    match = _DURATION.match(duration)
    assert match and duration, duration
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


def test_compose_file_is_valid() -> None:
    done = _compose("config", "-q", env={"JWT_SECRET_KEY": "test-only-secret"})
    assert done.returncode == 0, done.stderr


def test_compose_refuses_to_start_without_a_jwt_secret() -> None:
    done = _compose("config", "-q", env={})
    assert done.returncode != 0
    assert "JWT_SECRET_KEY" in done.stderr


def test_luna_starts_after_healthy_backing_services_and_a_finished_migration(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("api", "worker"):
        depends = {dep: cond["condition"] for dep, cond in services[name]["depends_on"].items()}
        assert depends == {
            "postgres": "service_healthy",
            "rabbitmq": "service_healthy",
            "redis": "service_healthy",
            "minio": "service_healthy",
            "minio-bucket": "service_completed_successfully",
            "migrate": "service_completed_successfully",
        }, name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for service in services.values():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert services[dependency]["healthcheck"]["test"], dependency


def test_api_and_worker_are_health_checked_on_readiness(compose: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        check = " ".join(compose["services"][name]["healthcheck"]["test"])
        assert "/readiness" in check and "curl" not in check, name


def test_each_mode_runs_from_the_one_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {services[name]["image"] for name in LUNA_SERVICES} == {"luna:local"}
    assert {name: services[name]["command"] for name in LUNA_SERVICES} == {
        "migrate": ["migrate"],
        "api": ["serve"],
        "worker": ["worker"],
    }
    # The worker service validates; the API process runs no validators of its own.
    assert services["api"]["environment"]["LUNA_VALIDATORS"] == "0"
    assert int(services["worker"]["environment"]["LUNA_VALIDATORS"]) >= 1


def test_rabbitmq_consumer_timeout_outlasts_a_job(compose: dict[str, Any]) -> None:
    erl_args = compose["services"]["rabbitmq"]["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    match = re.search(r"-rabbit consumer_timeout (\d+)", erl_args)
    assert match, erl_args
    timeout_s = int(match.group(1)) / 1000
    for name in LUNA_SERVICES:
        job_limit_s = float(compose["services"][name]["environment"]["LUNA_JOB_TIME_LIMIT_S"])
        assert job_limit_s == constants.JOB_TIME_LIMIT_S
        assert timeout_s >= 2 * job_limit_s


def test_presigned_urls_point_at_minio_as_published_on_the_host(compose: dict[str, Any]) -> None:
    services = compose["services"]
    public = urlsplit(services["api"]["environment"]["MINIO_PUBLIC_ENDPOINT"])
    assert public.hostname in ("localhost", "127.0.0.1")
    published = {str(p).split(":")[-2] for p in services["minio"]["ports"]}
    assert str(public.port) in published
    bucket = services["minio-bucket"]["environment"]["MINIO_BUCKET"]
    for name in LUNA_SERVICES:
        environment = services[name]["environment"]
        assert environment["MINIO_BUCKET"] == bucket
        assert environment["MINIO_ENDPOINT"] == "http://minio:9000"


def test_docker_waits_out_lunas_drain_before_killing(compose: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        service = compose["services"][name]
        drain_s = float(service["environment"]["LUNA_SHUTDOWN_GRACE_S"])
        assert _seconds(service["stop_grace_period"]) >= drain_s + 5, name


def test_luna_environment_names_are_settings_luna_reads(compose: dict[str, Any]) -> None:
    known = {name.upper() for name in Settings.model_fields} | {"AMQP_URL"}
    for name in LUNA_SERVICES:
        unknown = set(compose["services"][name]["environment"]) - known
        assert not unknown, f"{name}: luna reads no {sorted(unknown)}"


def test_backing_services_are_not_published_beyond_the_bind_address(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"
    assert not any("ports" in compose["services"][n] for n in ("postgres", "rabbitmq", "redis"))


def test_every_image_is_pinned() -> None:
    raw = yaml.safe_load((REPO / "compose.yaml").read_text())
    for name, service in raw["services"].items():
        assert not str(service["image"]).endswith(":latest"), name

"""Fixtures for the object store tests: settings for the moto server, a LocalStack S3 (which,
unlike moto, checks presigned signatures) when installed, and helpers to build stores."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from luna.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LOCALSTACK_SCRIPT = ROOT / "scripts" / "localstack.sh"
# LocalStack is ready in ~1.5 s here, ~5 s on its very first start; this only bounds a hang.
LOCALSTACK_START_LIMIT_S = 60.0
LOCALSTACK_OBJECT_DIR = Path("/tmp/localstack-s3-storage")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_settings(**values: object) -> Settings:
    """Settings with only the given values changed, ignoring the process environment."""
    data = Settings.model_construct().model_dump()
    data.update(values)
    return Settings.model_construct(**data)


@pytest.fixture(scope="session")
def localstack_settings(localstack_endpoint: str, bucket_prefix: str) -> Callable[..., Settings]:
    """Settings for the session's LocalStack S3 and this session's bucket; overrides win."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "minio_endpoint": localstack_endpoint,
            # LocalStack accepts any access key, but only with the secret "test".
            "minio_access_key": "luna",
            "minio_secret_key": SecretStr("test"),
            "minio_bucket": f"{bucket_prefix}-signed",
        }
        values.update(overrides)
        return build_settings(**values)

    return build


@pytest.fixture(scope="session")
def bucket_prefix(run_id: str) -> str:
    return f"luna-test-{run_id}-store"


@pytest.fixture
def s3_settings(s3_endpoint: str, bucket_prefix: str) -> Callable[..., Settings]:
    """Settings for the session's moto server and this session's bucket; overrides win."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "minio_endpoint": s3_endpoint,
            "minio_access_key": "test",
            "minio_secret_key": SecretStr("test"),
            "minio_bucket": bucket_prefix,
        }
        values.update(overrides)
        return build_settings(**values)

    return build


@pytest.fixture
def unreachable_endpoint() -> str:
    """An address where nothing listens (the port was free a moment ago)."""
    return f"127.0.0.1:{_free_port()}"


def _localstack_python() -> str | None:
    found = subprocess.run(
        ["bash", str(LOCALSTACK_SCRIPT), "python"], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() if found.returncode == 0 and found.stdout.strip() else None


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + LOCALSTACK_START_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"LocalStack exited early:\n{log.read_text()[-2000:]}")
        if "Ready." in log.read_text(errors="replace"):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"LocalStack did not start:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def localstack_endpoint(bucket_prefix: str) -> Iterator[str]:
    """A LocalStack S3 on a free port for the session; skipped when it is not installed."""
    python = _localstack_python()
    if python is None:
        pytest.skip("LocalStack is not installed: run `scripts/localstack.sh install`")
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="luna-localstack-"))
    log = workdir / "localstack.log"
    env = {
        **os.environ,
        "SERVICES": "s3",
        "EAGER_SERVICE_LOADING": "1",
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "PERSISTENCE": "0",
        "S3_SKIP_SIGNATURE_VALIDATION": "0",
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(workdir / "fs"),
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DNS_ADDRESS": "0",
        "LOCALSTACK_TELEMETRY_DISABLED": "1",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [python, "-m", "localstack.runtime.main"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    try:
        _wait_until_listening(process, port, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        # Nothing of it is kept, and a graceful stop takes seconds (SIGTERM ~7 s, SIGINT ~2 s).
        process.kill()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        # LocalStack keeps object data in a fixed folder whatever FILESYSTEM_ROOT says.
        for leftover in LOCALSTACK_OBJECT_DIR.glob(f"{bucket_prefix}*"):
            shutil.rmtree(leftover, ignore_errors=True)


@pytest.fixture
def unique_key() -> Callable[[str], str]:
    """Object keys unique to one test, so tests sharing a bucket never see each other."""
    prefix = f"datasets/{secrets.token_hex(4)}"
    return lambda name: f"{prefix}/{name}"

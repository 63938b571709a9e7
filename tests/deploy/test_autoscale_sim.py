"""scripts/autoscale_sim.py end to end: real API, real workers, the real queue, a small burst."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .conftest import REPO


@pytest.mark.slow
def test_every_job_of_a_burst_finishes_once_and_workers_return_to_the_minimum(
    amqp_url: str, tmp_path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "autoscale_sim.py"),
            *("--datasets", "8", "--images", "2", "--time-scale", "0.01"),
            *("--timeout-s", "120", "--log-dir", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "AMQP_URL": amqp_url,
            "DATABASE_ADMIN_URL": os.environ.get(
                "LUNA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            ),
        },
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "jobs completed: 8/8; finished exactly once: 8" in done.stdout
    final = re.search(r"replicas: (\d+) -> (\d+) \(at [\d.]+ s\) -> (\d+)", done.stdout)
    assert final is not None
    minimum, _, last = map(int, final.groups())
    assert last == minimum

"""The embedded PostgreSQL as an organiser meets it: silent while it works, its own words
when it fails, and never left running by a luna that was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from cli.embedded import (
    ROOT,
    data_dir,
    is_running,
    luna,
    plain_env,
    postmaster_pid,
    wait_until_stopped,
)


def test_user_add_prints_its_result_and_one_line_about_the_embedded_database():
    with data_dir("quiet") as data:
        result = luna(
            "user",
            "add",
            "zoe",
            "--team",
            "green",
            "--password-stdin",
            env=plain_env(LUNA_DATA_DIR=str(data)),
            stdin="a-long-password\n",
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "created member 'zoe' of team 'green'\n"
    said = result.stderr.splitlines()
    assert len(said) == 1, result.stderr
    assert "DATABASE_URL is not set: using an embedded PostgreSQL" in said[0]


def test_a_failing_embedded_database_shows_what_it_said_and_no_traceback():
    with data_dir("failing") as data:
        # Data of a PostgreSQL version that does not exist: the server refuses to start.
        (data / "postgres").mkdir(parents=True)
        (data / "postgres" / "PG_VERSION").write_text("7\n")
        result = luna("migrate", env=plain_env(LUNA_DATA_DIR=str(data)))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # PostgreSQL's own words, from its server log.
    assert "could not access the server configuration file" in result.stderr, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("luna: embedded PostgreSQL: did not start in "), last
    assert "(pg_ctl exited with status 1)" in last and last.endswith("postgres/log")


def test_a_killed_serve_leaves_its_database_to_the_next_luna_which_stops_it():
    with data_dir("killed") as data:
        env = plain_env(LUNA_DATA_DIR=str(data), LUNA_HOST="127.0.0.1", LUNA_PORT="0")
        serve = subprocess.Popen(
            [sys.executable, "-m", "luna", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert serve.stderr is not None
            for line in serve.stderr:
                if "listening on" in line:
                    break
            else:
                raise AssertionError("luna serve ended before it listened")
            database = postmaster_pid(data)
            assert database is not None
            serve.send_signal(signal.SIGKILL)
            serve.wait(timeout=30)
            time.sleep(0.5)
            assert is_running(database), "nothing to test: the server went down with serve"

            later = luna("migrate", env=env)

            assert later.returncode == 0, later.stderr
            assert wait_until_stopped(database), "the embedded PostgreSQL is still running"
            assert f"luna process {serve.pid} ended without stopping" in later.stderr
        finally:
            if serve.poll() is None:
                os.kill(serve.pid, signal.SIGKILL)
                serve.wait()

"""What the README tells a newcomer to run leaves nothing to guess: the command printed can
be typed as is, and the folders it suggests stay out of git's way."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
from cli.embedded import ROOT, plain_env


def test_example_dataset_prints_a_submit_command_that_runs_without_luna_on_path(tmp_path):
    venv_bin = os.path.dirname(sys.executable)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = plain_env(PATH=path)
    written = subprocess.run(
        [sys.executable, "-m", "luna", "example-dataset", "example"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0, written.stderr
    line = next(x for x in written.stdout.splitlines() if x.startswith("submit it with: "))
    command = shlex.split(line.removeprefix("submit it with: "))
    assert command[-2:] == ["submit", "example"]
    assert "LUNA_SERVER" in written.stdout and "--server" in written.stdout
    help_shown = subprocess.run(
        [*command[:-1], "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert help_shown.returncode == 0, help_shown.stderr
    assert "usage: luna submit" in help_shown.stdout


def test_the_readme_example_folders_are_ignored_by_git():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    checked = subprocess.run(
        ["git", "check-ignore", "example/manifest.csv", "broken/images/cut_short.jpg"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert checked.stdout.split() == ["example/manifest.csv", "broken/images/cut_short.jpg"]

"""`make test`'s Debian step: it says what it installs and why, and leaves alone what is there."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "debian-packages.sh"
LIST = ROOT / "scripts" / "debian-packages.txt"


def run_step(package_list: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "LUNA_DEBIAN_PACKAGES": str(package_list)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_names_each_missing_package_with_its_reason_and_skips_present_ones(tmp_path):
    package_list = tmp_path / "packages.txt"
    package_list.write_text(
        "# a comment, then a blank line\n\n"
        "coreutils  ls  everything needs ls\n"
        "luna-no-such-package  luna-no-such-command  the tests of something imaginary\n"
    )
    result = run_step(package_list, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "debian-packages: already installed: coreutils",
        "debian-packages: would install 1 package(s) with "
        + ("" if os.geteuid() == 0 else "sudo ")
        + "apt-get, as root:",
        "  luna-no-such-package   the tests of something imaginary",
        "debian-packages: --dry-run: nothing installed",
    ]


def test_nothing_is_installed_or_printed_beyond_one_line_when_all_are_present(tmp_path):
    package_list = tmp_path / "packages.txt"
    package_list.write_text("coreutils ls everything needs ls\nbash bash this script\n")
    result = run_step(package_list)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "debian-packages: already installed: coreutils bash\n"


def test_every_line_of_the_list_names_a_package_a_command_and_a_reason():
    for line in LIST.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        package, command, *reason = line.split()
        assert package == package.lower() and command and len(reason) >= 2, line

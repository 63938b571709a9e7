"""`--help` answers every question a newcomer has before reading the code: what each command
does, what each option means, in which unit."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest
from cli.embedded import ROOT

from luna.cli import _size, build_parser


def every_command(
    parser: argparse.ArgumentParser, path: str = "luna"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from every_command(child, f"{path} {name}")


def test_every_command_says_what_it_does_and_every_option_what_it_means():
    silent = []
    for path, parser in every_command(build_parser()):
        if not parser.description:
            silent.append(f"{path}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            if not action.help:
                silent.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert not silent, f"without help text: {silent}"


def test_team_quota_help_says_the_units_and_sizes_take_them():
    shown = subprocess.run(
        [sys.executable, "-m", "luna", "team", "quota", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "--bytes-stored SIZE" in shown and "2TiB" in shown and "per UTC day" in shown
    assert _size("2TiB") == 2 * 2**40
    assert _size("500 GB") == 500 * 10**9
    assert _size("1048576") == 1048576
    for wrong in ("2TB2", "lots", "\uff11\uff10"):
        with pytest.raises(argparse.ArgumentTypeError):
            _size(wrong)

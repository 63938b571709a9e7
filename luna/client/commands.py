"""The client's commands: `luna submit DIR` and `luna example-dataset DIR`.

commands = parser.add_subparsers(dest="command")
add_client_commands(commands)
...
if args.command in CLIENT_COMMANDS:
    return run_client_command(args)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from luna.client.api import server_url_problem
from luna.client.constants import DEFAULT_PARALLEL_UPLOADS, DEFAULT_SERVER_URL, MAX_PARALLEL_UPLOADS
from luna.client.errors import CredentialsMissing
from luna.client.resume import user_state_dir
from luna.client.submit import EXIT_NOT_FINISHED, Credentials, SubmitOptions, submit_directory

CLIENT_COMMANDS = ("submit", "example-dataset")


def add_client_commands(commands: argparse._SubParsersAction) -> None:
    """Register `submit` and `example-dataset` on the CLI's sub-command parsers."""
    submit = commands.add_parser(
        "submit",
        help="upload a dataset directory and wait for its verdict",
        description=(
            "Check DIR's manifest locally, upload every file (hidden ones aside; large files in "
            "parts) and follow the validation to its verdict. Credentials come from "
            "LUNA_USERNAME and LUNA_PASSWORD, or a prompt. An interrupted submission is "
            "remembered (under $LUNA_CACHE_DIR, default ~/.cache/luna) and running the same "
            "command again resumes its dataset, sending only what is missing, as long as the "
            "files, server and user are the same. Exit code: 0 accepted, 1 rejected, 2 could "
            "not finish."
        ),
    )
    submit.add_argument(
        "directory", type=Path, metavar="DIR", help="the dataset: manifest.csv and its images"
    )
    submit.add_argument(
        "--server",
        default=None,
        help=f"luna's URL (default: $LUNA_SERVER or {DEFAULT_SERVER_URL})",
    )
    submit.add_argument("--name", default=None, help="the dataset's name (default: DIR's name)")
    submit.add_argument("--description", default=None, help="a description of the dataset")
    submit.add_argument(
        "--json",
        action="store_true",
        help="print the final status as one JSON document on stdout, no progress bar",
    )
    submit.add_argument(
        "--parallel",
        type=_parallel,
        default=DEFAULT_PARALLEL_UPLOADS,
        metavar="N",
        help=f"uploads (files or parts of large files) at once (default "
        f"{DEFAULT_PARALLEL_UPLOADS})",
    )
    submit.add_argument(
        "--restart",
        action="store_true",
        help="start a new dataset even if an interrupted submission of DIR could be resumed",
    )
    submit.add_argument(
        "--force",
        action="store_true",
        help="upload even when the local manifest check finds errors",
    )
    example = commands.add_parser(
        "example-dataset",
        help="write a small example dataset to try luna submit with",
        description="Write a small, valid dataset (PNG and JPEG chest X-rays of a few "
        "patients, and its manifest.csv) to DIR, which must be new or empty.",
    )
    example.add_argument("directory", type=Path, metavar="DIR", help="where to write it")
    example.add_argument(
        "--images", type=_positive, default=12, metavar="N", help="how many images (default 12)"
    )
    example.add_argument(
        "--broken",
        action="store_true",
        help="add classic mistakes (a bad label, an unlisted image, a truncated JPEG)",
    )


def run_client_command(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run a client command parsed by `add_client_commands`; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.command == "example-dataset":
        return run_example_dataset(args, out=out, err=err)
    if args.command == "submit":
        env = os.environ if environ is None else environ
        options = submit_options(args, environ=env)
        problem = server_url_problem(options.server_url)
        if problem is not None:
            given = "--server" if args.server else "LUNA_SERVER"
            err.write(f"luna submit: {given} {options.server_url!r}: {problem}\n")
            return EXIT_NOT_FINISHED
        try:
            return asyncio.run(
                submit_directory(
                    options,
                    credentials=credentials_from(env, stdin=sys.stdin, err=err),
                    out=out,
                    err=err,
                )
            )
        except KeyboardInterrupt:
            return EXIT_NOT_FINISHED  # what was left undone is already said
    raise ValueError(f"not a client command: {args.command}")


def submit_options(args: argparse.Namespace, *, environ: Mapping[str, str]) -> SubmitOptions:
    return SubmitOptions(
        directory=args.directory,
        server_url=args.server or environ.get("LUNA_SERVER") or DEFAULT_SERVER_URL,
        dataset_name=args.name,
        description=args.description,
        parallel=args.parallel,
        json_output=args.json,
        force=args.force,
        restart=args.restart,
        state_dir=user_state_dir(environ),
    )


def credentials_from(
    environ: Mapping[str, str], *, stdin: TextIO, err: TextIO
) -> Callable[[], Credentials]:
    """LUNA_USERNAME and LUNA_PASSWORD, asking for what is missing when on a terminal."""

    def read() -> Credentials:
        username = environ.get("LUNA_USERNAME", "")
        password = environ.get("LUNA_PASSWORD", "")
        if (not username or not password) and not stdin.isatty():
            raise CredentialsMissing(
                "no credentials: set LUNA_USERNAME and LUNA_PASSWORD (or run on a terminal to "
                "be asked)"
            )
        if not username:
            err.write("luna username: ")
            err.flush()
            username = stdin.readline().strip()
        if not password:
            password = getpass.getpass(f"password for {username}: ", stream=err)
        if not username or not password:
            raise CredentialsMissing("no credentials: the username or password is empty")
        return Credentials(username, password)

    return read


def run_example_dataset(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    from luna.examples import DirectoryNotEmpty, write_example_dataset

    try:
        example = write_example_dataset(args.directory, images=args.images, broken=args.broken)
    except DirectoryNotEmpty as exc:
        err.write(f"luna example-dataset: {exc}\n")
        return 2
    images = len(example.files) - 1
    patients = f"{example.patients} patient{'' if example.patients == 1 else 's'}"
    out.write(f"wrote {images} images of {patients} and manifest.csv to {example.directory}\n")
    for mistake in example.mistakes:
        out.write(f"  mistake on purpose: {mistake}\n")
    server = os.environ.get("LUNA_SERVER") or DEFAULT_SERVER_URL
    out.write(f"submit it with: {luna_command()} submit {example.directory}\n")
    out.write(f"  (to luna at {server}: set LUNA_SERVER or give --server for another address)\n")
    return 0


def luna_command() -> str:
    """How to run this luna again: `luna` when that is what PATH finds, else this Python
    with `-m luna` (`.venv/bin/python -m luna` after `make run`)."""
    python = Path(sys.executable)
    beside = python.parent / "luna"
    found = shutil.which("luna")
    if found is not None and Path(found).absolute() == beside.absolute():
        return "luna"
    try:
        shown = python.relative_to(Path.cwd())
    except ValueError:
        shown = python
    return f"{shlex.quote(str(shown))} -m luna"


def _parallel(value: str) -> int:
    number = _positive(value)
    if number > MAX_PARALLEL_UPLOADS:
        raise argparse.ArgumentTypeError(f"at most {MAX_PARALLEL_UPLOADS}")
    return number


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number

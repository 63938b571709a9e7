"""`luna submit DIR`: one dataset from a team's disk to its verdict.

    options = SubmitOptions(directory=Path("my-dataset"), server_url="http://127.0.0.1:8000")
    code = await submit_directory(options, credentials=lambda: Credentials("alice", "pw"),
                                  out=sys.stdout, err=sys.stderr)

The steps: check the manifest locally (errors stop here, before a byte leaves), log in, hash,
`upload/start`, upload in parallel, `upload/complete`, follow the validation live, print the
verdict. Exit code 0 accepted, 1 rejected (or stopped by the local check), 2 not finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from luna.client.api import LunaApi, open_api
from luna.client.constants import DEFAULT_PARALLEL_UPLOADS
from luna.client.errors import SubmitError, ValidationDidNotRun
from luna.client.follow import follow_validation
from luna.client.local_files import LocalFile, hash_files, scan_directory
from luna.client.preflight import check_dataset_locally, errors_in
from luna.client.progress import Progress, format_bytes
from luna.client.report import render_local_findings, render_status
from luna.client.transfer import describe_transfer_error
from luna.client.uploader import ChooseTransfer, single_put_for_all, upload_files

EXIT_ACCEPTED = 0
EXIT_REJECTED = 1
EXIT_NOT_FINISHED = 2


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@dataclass(frozen=True)
class SubmitOptions:
    directory: Path
    server_url: str
    dataset_name: str | None = None  # default: the directory's name
    description: str | None = None
    parallel: int = DEFAULT_PARALLEL_UPLOADS
    json_output: bool = False
    force: bool = False
    # None: redraw in place when stderr is a terminal.
    interactive: bool | None = None


async def submit_directory(
    options: SubmitOptions,
    *,
    credentials: Callable[[], Credentials],
    out: TextIO,
    err: TextIO,
    choose_transfer: ChooseTransfer = single_put_for_all,
) -> int:
    """Run the whole submission; returns the exit code. `credentials` is called only once
    the local check passed; it may prompt on the terminal."""
    run = _Submission(options, out=out, err=err, choose_transfer=choose_transfer)
    try:
        return await run.all_steps(credentials)
    except SubmitError as exc:
        run.fail(str(exc))
        return exc.exit_code
    except OSError as exc:  # a file unreadable, or removed during the submission
        run.fail(f"cannot read {exc.filename or 'a file'}: {exc.strerror or exc}")
        return EXIT_NOT_FINISHED
    except asyncio.CancelledError:
        run.fail("interrupted")
        raise


class _Submission:
    def __init__(
        self, options: SubmitOptions, *, out: TextIO, err: TextIO, choose_transfer: ChooseTransfer
    ) -> None:
        self.options = options
        self.out = out
        self.err = err
        self.choose_transfer = choose_transfer
        self.dataset_id: int | None = None
        self.completed = False
        # Where the submission is, for the error report: scripts (--json) get it too.
        self.stage = "local_check"

    # ------------------------------------------------------------------ steps

    async def all_steps(self, credentials: Callable[[], Credentials]) -> int:
        directory = self.options.directory
        if not directory.is_dir():
            raise SubmitError(f"{directory} is not a directory")
        files = await asyncio.to_thread(scan_directory, directory)
        if not await self.local_check(files):
            return EXIT_REJECTED
        self.stage = "login"
        # Called on the loop's thread, which has nothing else to do yet: a prompt blocked in a
        # worker thread would keep the process alive after Ctrl-C.
        who = credentials()
        async with open_api(self.options.server_url) as api:
            await api.login(who.username, who.password)
            self.say(f"logged in to {api.server_url} as {who.username}")
            self.stage = "hashing"
            files = await self.hash(files)
            self.stage = "upload_start"
            plan = await api.start_upload(
                dataset_name=self.options.dataset_name or directory.resolve().name,
                description=self.options.description,
                files=files,
            )
            self.dataset_id = plan.dataset_id
            self.stage = "uploading"
            await self.upload(api, plan, files)
            self.stage = "complete"
            await api.complete_upload(plan.dataset_id)
            self.completed = True
            self.stage = "validating"
            self.say(f"dataset {plan.dataset_id}: uploaded; validating")
            status = await self.follow(api, plan.dataset_id)
        return self.conclude(status, server_url=api.server_url)

    async def local_check(self, files: list[LocalFile]) -> bool:
        findings = await asyncio.to_thread(check_dataset_locally, files)
        errors = errors_in(findings)
        stop = errors > 0 and not self.options.force
        if stop and self.options.json_output:
            self.emit_json(
                {
                    "dataset_id": None,
                    "stage": "local_check",
                    "status": "not_submitted",
                    "verdict": "rejected",
                    "findings": [f.as_dict() for f in findings],
                }
            )
        elif findings:
            target = self.err if self.options.json_output else self.out
            target.write(render_local_findings(findings, stopped=stop) + "\n")
            if not stop:
                target.write("\n")
        return not stop

    async def hash(self, files: list[LocalFile]) -> list[LocalFile]:
        total = sum(f.size_bytes for f in files)
        bar = self.progress(total, label="hashing  ", unit="bytes")
        hashed = await hash_files(files, on_bytes=bar.advance)
        bar.finish()
        return hashed

    async def upload(self, api: LunaApi, plan: Any, files: list[LocalFile]) -> None:
        total = sum(f.size_bytes for f in files)
        self.say(
            f"dataset {plan.dataset_id}: uploading {len(files)} files ({format_bytes(total)}) "
            f"with {self.options.parallel} in parallel"
        )
        bar = self.progress(total, label="uploading", unit="bytes")
        done_files = 0

        def file_done(_: LocalFile) -> None:
            nonlocal done_files
            done_files += 1
            bar.detail = f"{done_files}/{len(files)} files"

        def retry(file: LocalFile, attempt: int, exc: BaseException, delay_s: float) -> None:
            bar.note(
                f"{file.filename}: attempt {attempt} failed ({describe_transfer_error(exc)}); "
                f"retrying in {delay_s:.1f} s"
            )

        await upload_files(
            api.session,
            plan,
            files,
            parallel=self.options.parallel,
            progress=bar.advance,
            on_file_done=file_done,
            on_retry=retry,
            choose_transfer=self.choose_transfer,
        )
        bar.finish()

    async def follow(self, api: LunaApi, dataset_id: int) -> dict[str, Any]:
        bar = self.progress(0, label="validating", unit="files")

        def show(files_done: int, files_total: int, status: str) -> None:
            bar.update(files_done, total=files_total, detail=status)

        status = await follow_validation(api, dataset_id, on_progress=show, on_note=bar.note)
        bar.finish()
        return status

    def conclude(self, status: dict[str, Any], *, server_url: str) -> int:
        if self.options.json_output:
            self.emit_json(status)
        else:
            self.out.write("\n" + render_status(status, server_url=server_url) + "\n")
        if status.get("status") == "failed":
            if self.options.json_output:
                self.err.write(
                    f"luna submit: validation could not run: {status.get('error_message')}\n"
                )
            return ValidationDidNotRun.exit_code
        verdict = (status.get("validation_results") or {}).get("verdict")
        return EXIT_ACCEPTED if verdict == "accepted" else EXIT_REJECTED

    # ------------------------------------------------------------------ output

    def progress(self, total: int, *, label: str, unit: Any) -> Progress:
        return Progress(
            total,
            label=label,
            unit=unit,
            stream=self.err,
            interactive=self.options.interactive,
            enabled=not self.options.json_output,
        )

    def say(self, message: str) -> None:
        if not self.options.json_output:
            self.err.write(message + "\n")
            self.err.flush()

    def fail(self, message: str) -> None:
        dataset_id = self.dataset_id
        where = f"dataset {dataset_id}: " if dataset_id is not None else ""
        if self.err.isatty() and not self.options.json_output:
            self.err.write("\n")  # off the progress line
        self.err.write(f"luna submit: {where}{message}\n")
        if dataset_id is not None and self.completed:
            self.err.write(
                f"luna submit: dataset {dataset_id} is uploaded and its validation goes on; "
                f"see GET /api/v1/validation/{dataset_id}/status\n"
            )
        elif dataset_id is not None:
            self.err.write(
                f"luna submit: dataset {dataset_id} was not completed; run luna submit again\n"
            )
        if self.options.json_output:
            self.emit_json(
                {
                    "dataset_id": dataset_id,
                    "stage": self.stage,
                    "status": "error",
                    "error": message,
                    "exit_code": EXIT_NOT_FINISHED,
                }
            )

    def emit_json(self, document: Any) -> None:
        self.out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        self.out.flush()

"""`luna submit DIR`: one dataset from a team's disk to its verdict.

    options = SubmitOptions(directory=Path("my-dataset"), server_url="http://127.0.0.1:8000")
    code = await submit_directory(options, credentials=lambda: Credentials("alice", "pw"),
                                  out=sys.stdout, err=sys.stderr)

The steps: check the manifest locally (errors stop here, before a byte leaves), log in, hash,
`upload/start` (or resume, below), upload in parallel (large files in parts), `upload/complete`,
follow the validation live, print the verdict. Exit code 0 accepted, 1 rejected (or stopped by
the local check), 2 not finished.

Resuming: once `upload/start` answers, the submission is remembered (`luna.client.resume`)
until `upload/complete` succeeds. Run again on the same directory, with the same files (names,
sizes, SHA-256), server and user, while the dataset still uploads, it continues that dataset:
fresh URLs from `upload/urls`, which also says which files the store already holds whole
(those are skipped, whatever their size), and for files in parts only the parts
`GET /upload/parts` does not list are sent. Anything else
(files changed, dataset gone or completed, `restart=True`) starts a new dataset, saying why.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import orjson

from luna.client.api import LunaApi, UploadPlan, open_api
from luna.client.constants import DEFAULT_PARALLEL_UPLOADS, RESUME_LOOKUPS_IN_FLIGHT
from luna.client.errors import ApiError, SubmitError, ValidationDidNotRun, first_failure
from luna.client.follow import follow_validation
from luna.client.local_files import LocalFile, hash_files, scan_directory
from luna.client.preflight import check_dataset_locally, errors_in
from luna.client.progress import Progress, format_bytes
from luna.client.report import render_local_findings, render_status
from luna.client.resume import (
    StateUnreadable,
    SubmissionMemory,
    UnfinishedSubmission,
    user_state_dir,
)
from luna.client.transfer import describe_transfer_error
from luna.client.uploader import ChooseTransfer, choose_transfer, upload_files

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
    # Start a new dataset even when an unfinished one of this directory could be resumed.
    restart: bool = False
    # Where unfinished submissions are remembered; None: the user's cache directory.
    state_dir: Path | None = None
    # None: redraw in place when stderr is a terminal.
    interactive: bool | None = None


@dataclass(frozen=True)
class Resumed:
    """What is already stored of a resumed dataset: whole files and part numbers by file_id,
    and bytes."""

    stored_parts: dict[int, frozenset[int]]
    stored_bytes: int
    stored_files: frozenset[int] = frozenset()


async def submit_directory(
    options: SubmitOptions,
    *,
    credentials: Callable[[], Credentials],
    out: TextIO,
    err: TextIO,
    choose_transfer: ChooseTransfer | None = None,
) -> int:
    """Run the whole submission; returns the exit code. `credentials` is called only once
    the local check passed; it may prompt on the terminal. `choose_transfer` replaces the
    standard choice (parts for files planned as multipart, one PUT for the others)."""
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
        self,
        options: SubmitOptions,
        *,
        out: TextIO,
        err: TextIO,
        choose_transfer: ChooseTransfer | None,
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
            memory = SubmissionMemory.for_directory(
                directory, state_dir=self.options.state_dir or user_state_dir(os.environ)
            )
            plan, resumed = await self.start_or_resume(
                api, memory, username=who.username, files=files
            )
            self.dataset_id = plan.dataset_id
            self.stage = "uploading"
            await self.upload(api, plan, files, resumed=resumed)
            self.stage = "complete"
            await api.complete_upload(plan.dataset_id)
            self.completed = True
            self.forget(memory)
            self.stage = "validating"
            self.say(f"dataset {plan.dataset_id}: uploaded; validating")
            status = await self.follow(api, plan.dataset_id)
        return self.conclude(status, server_url=api.server_url)

    def dataset_name(self) -> str:
        return self.options.dataset_name or self.options.directory.resolve().name

    async def start_or_resume(
        self,
        api: LunaApi,
        memory: SubmissionMemory,
        *,
        username: str,
        files: list[LocalFile],
    ) -> tuple[UploadPlan, Resumed | None]:
        """Resume the directory's unfinished dataset when everything still matches; else
        start a new one (and remember it)."""
        try:
            saved = memory.load()
        except StateUnreadable as exc:
            self.warn(f"not resuming: {exc}; starting a new dataset")
            saved = None
        if saved is not None:
            resumed = await self.try_resume(api, saved, username=username, files=files)
            if resumed is not None:
                return resumed
        plan = await api.start_upload(
            dataset_name=self.dataset_name(),
            description=self.options.description,
            files=files,
        )
        self.remember(
            memory,
            UnfinishedSubmission.of(
                server_url=api.server_url,
                username=username,
                dataset_id=plan.dataset_id,
                dataset_name=self.dataset_name(),
                directory=self.options.directory,
                files=files,
            ),
        )
        return plan, None

    async def try_resume(
        self,
        api: LunaApi,
        saved: UnfinishedSubmission,
        *,
        username: str,
        files: list[LocalFile],
    ) -> tuple[UploadPlan, Resumed] | None:
        """The resumed dataset's fresh plan and what it already holds, or None (said why)."""
        dataset_id = saved.dataset_id
        reason = saved.mismatch(
            server_url=api.server_url,
            username=username,
            dataset_name=self.dataset_name(),
            files=files,
        )
        if self.options.restart:
            reason = "--restart was given"
        plan = None
        if reason is None:
            try:
                plan = await api.fresh_upload_urls(dataset_id)
            except ApiError as exc:
                if exc.status not in (404, 409):
                    raise
                reason = f"the server says: {exc.detail}"
        if plan is not None and {t.filename for t in plan.targets} != {f.filename for f in files}:
            reason = "the server's list of its files differs from this directory"
        if reason is not None or plan is None:
            self.warn(
                f"not resuming the unfinished dataset {dataset_id} of this directory: {reason}; "
                "starting a new dataset"
            )
            return None
        self.dataset_id = dataset_id
        in_parts = await self.stored_parts(api, plan)
        sizes = {f.filename: f.size_bytes for f in files}
        whole = [t for t in plan.targets if t.stored]
        resumed = Resumed(
            stored_parts=in_parts.stored_parts,
            stored_bytes=in_parts.stored_bytes + sum(sizes[t.filename] for t in whole),
            stored_files=frozenset(t.file_id for t in whole),
        )
        total = sum(sizes.values())
        self.say(
            f"dataset {dataset_id}: resuming the interrupted submission ({len(whole)} of "
            f"{len(files)} files, {format_bytes(resumed.stored_bytes)} of "
            f"{format_bytes(total)} already stored)"
        )
        return plan, resumed

    async def stored_parts(self, api: LunaApi, plan: UploadPlan) -> Resumed:
        """Ask which parts of each multipart file arrived, a few files at a time."""
        large = [t for t in plan.targets if t.multipart is not None]
        lookups = asyncio.Semaphore(RESUME_LOOKUPS_IN_FLIGHT)

        async def lookup(file_id: int) -> tuple[int, dict[int, int]]:
            async with lookups:
                stored = await api.stored_parts(plan.dataset_id, file_id)
            return file_id, stored.sizes

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(lookup(t.file_id)) for t in large]
        except ExceptionGroup as failures:
            raise first_failure(failures) from None
        found = dict(task.result() for task in tasks)
        return Resumed(
            stored_parts={file_id: frozenset(sizes) for file_id, sizes in found.items()},
            stored_bytes=sum(sum(sizes.values()) for sizes in found.values()),
        )

    def remember(self, memory: SubmissionMemory, submission: UnfinishedSubmission) -> None:
        try:
            memory.save(submission)
        except OSError as exc:
            self.warn(
                f"cannot remember this submission in {memory.path.parent} "
                f"({exc.strerror or exc}); an interrupted upload will start over"
            )

    def forget(self, memory: SubmissionMemory) -> None:
        try:
            memory.forget()
        except OSError as exc:
            self.warn(f"cannot remove {memory.path}: {exc.strerror or exc}")

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

    async def upload(
        self,
        api: LunaApi,
        plan: UploadPlan,
        files: Sequence[LocalFile],
        *,
        resumed: Resumed | None = None,
    ) -> None:
        total = sum(f.size_bytes for f in files)
        already = resumed.stored_bytes if resumed is not None else 0
        skipped = resumed.stored_files if resumed is not None else frozenset()
        if already:
            what = (
                f"what is missing: {len(files) - len(skipped)} of {len(files)} files, "
                f"{format_bytes(total - already)} of {format_bytes(total)},"
            )
        else:
            what = f"{len(files)} files ({format_bytes(total)})"
        self.say(
            f"dataset {plan.dataset_id}: uploading {what} with {self.options.parallel} in parallel"
        )
        bar = self.progress(total, label="uploading", unit="bytes", done=already)
        done_files = len(skipped)
        if skipped:
            bar.detail = f"{done_files}/{len(files)} files"
            plan = replace(plan, targets=tuple(t for t in plan.targets if t.file_id not in skipped))

        def file_done(_: LocalFile) -> None:
            nonlocal done_files
            done_files += 1
            bar.detail = f"{done_files}/{len(files)} files"

        def retry(file: LocalFile, attempt: int, exc: BaseException, delay_s: float) -> None:
            bar.note(
                f"{file.filename}: attempt {attempt} failed ({describe_transfer_error(exc)}); "
                f"retrying in {delay_s:.1f} s"
            )

        chooser = self.choose_transfer or choose_transfer(
            api,
            dataset_id=plan.dataset_id,
            stored=resumed.stored_parts if resumed is not None else None,
            parallel=self.options.parallel,
            slots=asyncio.Semaphore(self.options.parallel),
        )
        await upload_files(
            api.session,
            plan,
            files,
            parallel=self.options.parallel,
            progress=bar.advance,
            on_file_done=file_done,
            on_retry=retry,
            choose_transfer=chooser,
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

    def progress(self, total: int, *, label: str, unit: Any, done: int = 0) -> Progress:
        return Progress(
            total,
            done=done,
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

    def warn(self, message: str) -> None:
        """A line the user must see, --json or not (on stderr, which scripts keep apart)."""
        self.err.write(f"luna submit: {message}\n")
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
                f"luna submit: dataset {dataset_id} was not completed; run luna submit again "
                "to resume it\n"
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

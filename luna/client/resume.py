"""What `luna submit` remembers of an unfinished submission, so running it again resumes the
same dataset instead of uploading everything into a new one.

    memory = SubmissionMemory.for_directory(Path("my-dataset"), state_dir=user_state_dir(env))
    saved = memory.load()                       # None: nothing remembered (or unreadable)
    reason = saved.mismatch(server_url=..., username=..., dataset_name=..., files=hashed)
    memory.save(UnfinishedSubmission.of(...))   # right after upload/start
    memory.forget()                             # once upload/complete succeeded

Where: one small JSON file per dataset directory in the user's cache directory
(`$LUNA_CACHE_DIR`, else `$XDG_CACHE_HOME/luna`, else `~/.cache/luna`; `%LOCALAPPDATA%\\luna`
on Windows), under `submissions/`, named after the directory's absolute path. Not in the
dataset directory itself: that may be read-only (a mounted share, a colleague's folder),
another teammate may submit the same folder as someone else, and a team's data directory
should not collect tool files. The file records the server, the username, the dataset and
each file's name, size and SHA-256: a resume needs all of them to match.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from luna.client.local_files import LocalFile

STATE_VERSION = 1


def user_state_dir(environ: Mapping[str, str]) -> Path:
    """Where unfinished submissions are remembered for this user."""
    if environ.get("LUNA_CACHE_DIR"):
        base = Path(environ["LUNA_CACHE_DIR"])
    elif sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        base = Path(environ["LOCALAPPDATA"], "luna")
    elif environ.get("XDG_CACHE_HOME"):
        base = Path(environ["XDG_CACHE_HOME"], "luna")
    else:
        base = Path.home() / ".cache" / "luna"
    return base / "submissions"


@dataclass(frozen=True)
class SavedFile:
    filename: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class UnfinishedSubmission:
    """A dataset started from a directory and not completed yet."""

    server_url: str
    username: str
    dataset_id: int
    dataset_name: str
    directory: str
    files: tuple[SavedFile, ...]

    @classmethod
    def of(
        cls,
        *,
        server_url: str,
        username: str,
        dataset_id: int,
        dataset_name: str,
        directory: Path,
        files: Sequence[LocalFile],
    ) -> UnfinishedSubmission:
        return cls(
            server_url=server_url,
            username=username,
            dataset_id=dataset_id,
            dataset_name=dataset_name,
            directory=str(directory.resolve()),
            files=tuple(_saved(f) for f in files),
        )

    def mismatch(
        self,
        *,
        server_url: str,
        username: str,
        dataset_name: str,
        files: Sequence[LocalFile],
    ) -> str | None:
        """Why this submission cannot be resumed by the one about to run, or None."""
        if self.server_url != server_url:
            return f"it was sent to {self.server_url}, not {server_url}"
        if self.username != username:
            return f"it was sent by {self.username}, not {username}"
        if self.dataset_name != dataset_name:
            return f"it was named {self.dataset_name!r}, not {dataset_name!r}"
        before = {f.filename: f for f in self.files}
        now = {f.filename: _saved(f) for f in files}
        changed = sorted(n for n in before.keys() & now.keys() if before[n] != now[n])
        added = sorted(now.keys() - before.keys())
        removed = sorted(before.keys() - now.keys())
        for names, what in ((changed, "changed"), (added, "is new"), (removed, "is gone")):
            if names:
                more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
                return f"{names[0]} {what} since then{more}"
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "server_url": self.server_url,
            "username": self.username,
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "directory": self.directory,
            "files": [
                {"filename": f.filename, "size_bytes": f.size_bytes, "sha256": f.sha256}
                for f in self.files
            ],
        }

    @classmethod
    def from_json(cls, body: Any) -> UnfinishedSubmission:
        """Raises ValueError (KeyError, TypeError included) for anything else."""
        if not isinstance(body, dict) or body.get("version") != STATE_VERSION:
            raise ValueError("not a luna submission state of a known version")
        return cls(
            server_url=str(body["server_url"]),
            username=str(body["username"]),
            dataset_id=int(body["dataset_id"]),
            dataset_name=str(body["dataset_name"]),
            directory=str(body["directory"]),
            files=tuple(
                SavedFile(str(f["filename"]), int(f["size_bytes"]), str(f["sha256"]))
                for f in body["files"]
            ),
        )


def _saved(file: LocalFile) -> SavedFile:
    if file.sha256 is None:
        raise ValueError(f"{file.filename} is not hashed yet")
    return SavedFile(file.filename, file.size_bytes, file.sha256)


class StateUnreadable(Exception):
    """The state file exists but cannot be used; `str()` says why."""


@dataclass(frozen=True)
class SubmissionMemory:
    """The state file of one dataset directory."""

    path: Path

    @classmethod
    def for_directory(cls, directory: Path, *, state_dir: Path) -> SubmissionMemory:
        resolved = str(directory.resolve())
        digest = hashlib.sha256(resolved.encode()).hexdigest()[:24]
        return cls(state_dir / f"{digest}.json")

    def load(self) -> UnfinishedSubmission | None:
        """The remembered submission; None when there is none. Raises `StateUnreadable`."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateUnreadable(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        try:
            return UnfinishedSubmission.from_json(orjson.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            raise StateUnreadable(f"{self.path} is not a state luna can use ({exc})") from exc

    def save(self, submission: UnfinishedSubmission) -> None:
        """Write atomically: a crash mid-write leaves the old state or the new, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=self.path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(orjson.dumps(submission.as_json(), option=orjson.OPT_INDENT_2))
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

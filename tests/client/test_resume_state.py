"""What luna submit remembers of an unfinished submission, and when it may resume it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from luna.client.local_files import LocalFile
from luna.client.resume import (
    StateUnreadable,
    SubmissionMemory,
    UnfinishedSubmission,
    user_state_dir,
)

SERVER = "http://luna.example:8000"


def files(tmp_path: Path, changes: dict[str, str] | None = None) -> list[LocalFile]:
    made = [
        LocalFile(tmp_path / "manifest.csv", "manifest.csv", 40, "text/csv", "a" * 64),
        LocalFile(tmp_path / "images/p1.png", "images/p1.png", 5000, "image/png", "b" * 64),
        LocalFile(tmp_path / "images/p2.png", "images/p2.png", 6000, "image/png", "c" * 64),
    ]
    changes = changes or {}
    return [replace(f, sha256=changes.get(f.filename, f.sha256)) for f in made]


def saved(tmp_path: Path) -> UnfinishedSubmission:
    return UnfinishedSubmission.of(
        server_url=SERVER,
        username="ada",
        dataset_id=17,
        dataset_name="chest",
        directory=tmp_path,
        files=files(tmp_path),
    )


def test_the_state_lives_in_the_users_cache_directory():
    assert user_state_dir({"LUNA_CACHE_DIR": "/srv/cache"}) == Path("/srv/cache/submissions")
    assert user_state_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/luna/submissions")
    assert user_state_dir({}) == Path.home() / ".cache" / "luna" / "submissions"


def test_one_state_file_per_directory(tmp_path: Path):
    first = SubmissionMemory.for_directory(tmp_path / "a", state_dir=tmp_path / "state")
    again = SubmissionMemory.for_directory(
        tmp_path / "x" / ".." / "a", state_dir=tmp_path / "state"
    )
    other = SubmissionMemory.for_directory(tmp_path / "b", state_dir=tmp_path / "state")
    assert first.path == again.path != other.path


def test_saved_then_loaded_then_forgotten(tmp_path: Path):
    memory = SubmissionMemory.for_directory(tmp_path, state_dir=tmp_path / "state")
    assert memory.load() is None
    memory.save(saved(tmp_path))
    assert memory.load() == saved(tmp_path)
    assert os.listdir(memory.path.parent) == [memory.path.name]  # no temporary left behind
    memory.forget()
    assert memory.load() is None
    memory.forget()  # twice is fine


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"version": 99}', b'{"version": 1, "server_url": "x"}']
)
def test_a_state_luna_cannot_use_says_so(tmp_path: Path, content: bytes):
    memory = SubmissionMemory.for_directory(tmp_path, state_dir=tmp_path)
    memory.path.write_bytes(content)
    with pytest.raises(StateUnreadable, match="not a state luna can use"):
        memory.load()


def test_the_same_files_server_user_and_name_may_resume(tmp_path: Path):
    assert (
        saved(tmp_path).mismatch(
            server_url=SERVER, username="ada", dataset_name="chest", files=files(tmp_path)
        )
        is None
    )


def test_every_difference_is_named(tmp_path: Path):
    state = saved(tmp_path)
    same = {"server_url": SERVER, "username": "ada", "dataset_name": "chest"}

    def why(**kwargs: object) -> str | None:
        args = {**same, "files": files(tmp_path), **kwargs}
        return state.mismatch(**args)  # type: ignore[arg-type]

    assert why(server_url="http://other:8000") == (
        f"it was sent to {SERVER}, not http://other:8000"
    )
    assert why(username="bob") == "it was sent by ada, not bob"
    assert why(dataset_name="chest-v2") == "it was named 'chest', not 'chest-v2'"
    assert why(files=files(tmp_path, {"images/p2.png": "d" * 64})) == (
        "images/p2.png changed since then"
    )
    grown = [*files(tmp_path), LocalFile(tmp_path / "n.png", "n.png", 1, "image/png", "e" * 64)]
    assert why(files=grown) == "n.png is new since then"
    assert why(files=files(tmp_path)[:1]) == "images/p1.png is gone since then (and 1 more)"
    resized = [replace(f, size_bytes=f.size_bytes + 1) for f in files(tmp_path)]
    assert why(files=resized) == "images/p1.png changed since then (and 2 more)"

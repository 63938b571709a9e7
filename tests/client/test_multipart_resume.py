"""`luna submit` with a file large enough to go in parts (a 17.2 MiB DICOM, 4 parts of 5 MiB
here), against the real service: the parts go up and the dataset is accepted; a submission
stopped part-way is resumed by the next `luna submit`, which sends exactly the missing parts
into the same dataset; changed files, a completed dataset or --restart start a new one. The
store front (`flaky_store`) counts every PUT that reached the store."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from support import login

from luna.client.local_files import hash_files, scan_directory
from luna.client.resume import SubmissionMemory, UnfinishedSubmission, user_state_dir
from luna.http.keys import DB

PARTS = [1, 2, 3, 4]


async def datasets_of(luna: Any) -> list[dict[str, Any]]:
    headers = await login(luna.client, luna.account)
    response = await luna.client.get("/api/v1/datasets", headers=headers)
    assert response.status == 200
    return (await response.json())["items"]  # type: ignore[no-any-return]


def names(example: Any) -> list[str]:
    """The files sent whole, by their last path segment as the store front logs them."""
    return sorted(f.rsplit("/", 1)[-1] for f in example.files if f != example.large)


async def interrupted(
    luna: Any, submit: Callable[..., Any], store: Any, directory: Any, *, parts: int
) -> None:
    """Run luna submit until `parts` parts are stored and the next is held, then stop it as a
    Ctrl-C would."""
    store.hold_parts_after = parts
    task = asyncio.ensure_future(submit(["--server", luna.url, str(directory)], env=luna.env()))
    waiting = asyncio.ensure_future(store.wait_until_held(parts_stored=parts))
    await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        raise AssertionError(f"luna submit ended before it was interrupted: {task.result()}")
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    store.release()
    await asyncio.wait_for(store.wait_until_idle(), timeout=30)


async def test_a_large_file_goes_up_in_parts_and_the_dataset_is_accepted(
    start_luna, submit, large_example, flaky_store, small_parts
):
    store, store_url = flaky_store
    example = large_example()
    # One part answers 503 (retried), another's URL is refused once (asked for again).
    store.faults = {example.large: ["503", "403"]}
    luna = await start_luna(minio_public_endpoint=store_url, luna_validators=1, **small_parts)

    result = await submit(["--server", luna.url, str(example.directory)], env=luna.env())

    assert result.code == 0, result.err + result.out
    assert "ACCEPTED" in result.out
    assert store.parts_stored(example.large) == PARTS  # each part stored once
    assert store.whole_puts() == names(example)  # the large file never went whole
    assert store.attempts[next(k for k in store.attempts if k.endswith(example.large))] == 6
    assert re.search(r"attempt 1 failed \(part \d: HTTP 503: SlowDown", result.err)
    assert re.search(r"attempt 1 failed \(part \d: the store refused its URL", result.err)
    assert "5/5 files" in [line for line in result.err.splitlines() if "uploading" in line][-1]
    assert luna.saved_submissions() == []  # completed: nothing left to resume


async def test_an_interrupted_submission_resumes_with_exactly_the_missing_parts(
    start_luna, submit, large_example, flaky_store, small_parts
):
    store, store_url = flaky_store
    example = large_example()
    luna = await start_luna(minio_public_endpoint=store_url, luna_validators=1, **small_parts)

    await interrupted(luna, submit, store, example.directory, parts=2)
    first_parts = store.parts_stored(example.large)
    assert len(first_parts) == 2
    first_whole = store.whole_puts()
    [saved] = luna.saved_submissions()
    [dataset] = await datasets_of(luna)
    assert dataset["status"] == "uploading"

    store.stored.clear()
    result = await submit(["--server", luna.url, str(example.directory)], env=luna.env())

    assert result.code == 0, result.err + result.out
    assert f"dataset {dataset['dataset_id']}: resuming the interrupted submission" in result.err
    # The two stored parts (10.0 MiB) and the small files stored whole were known before sending.
    resuming = re.search(
        r"\((\d+) of 5 files, ([\d.]+) MiB of [\d.]+ MiB already stored\)", result.err
    )
    assert resuming is not None, result.err
    assert int(resuming[1]) == len(first_whole) and float(resuming[2]) >= 10.0
    assert store.parts_stored(example.large) == [n for n in PARTS if n not in first_parts]
    # Small files stored whole by the first run are not sent again; the others once each.
    assert store.whole_puts() == sorted(set(names(example)) - set(first_whole))
    assert "ACCEPTED" in result.out
    [after] = await datasets_of(luna)
    assert after["dataset_id"] == dataset["dataset_id"]
    assert after["verdict"] == "accepted"
    assert not saved.exists()


async def test_a_resumed_submission_sends_only_the_files_the_store_does_not_hold(
    start_luna, submit, example, flaky_store
):
    store, store_url = flaky_store
    directory = example(images=6)
    luna = await start_luna(minio_public_endpoint=store_url, luna_validators=1)
    victim = sorted(p.name for p in (directory / "images").iterdir())[0]
    store.faults[victim] = ["503"] * 5  # every attempt refused: the first run cannot finish

    first = await submit(["--server", luna.url, str(directory)], env=luna.env())

    assert first.code == 2, first.err + first.out
    assert "run luna submit again to resume it" in first.err
    assert victim not in store.whole_puts() and len(store.whole_puts()) == 6
    store.stored.clear()
    store.faults.clear()

    again = await submit(["--server", luna.url, str(directory)], env=luna.env())

    assert again.code == 0, again.err + again.out
    assert store.whole_puts() == [victim]  # the six stored files were not sent again
    assert re.search(
        r"resuming the interrupted submission \(6 of 7 files, [\d.]+ \w?i?B of", again.err
    )
    assert re.search(r"uploading what is missing: 1 of 7 files", again.err)
    assert "ACCEPTED" in again.out


async def test_changed_files_start_a_new_dataset_with_every_part(
    start_luna, submit, large_example, flaky_store, small_parts
):
    store, store_url = flaky_store
    example = large_example()
    luna = await start_luna(minio_public_endpoint=store_url, luna_validators=1, **small_parts)
    await interrupted(luna, submit, store, example.directory, parts=1)
    [first] = await datasets_of(luna)
    example.change_large_file()

    store.stored.clear()
    result = await submit(["--server", luna.url, str(example.directory)], env=luna.env())

    assert result.code == 0, result.err + result.out
    assert (
        f"not resuming the unfinished dataset {first['dataset_id']} of this directory: "
        f"{example.large} changed since then; starting a new dataset"
    ) in result.err
    assert store.parts_stored(example.large) == PARTS
    newest, oldest = await datasets_of(luna)
    assert oldest["dataset_id"] == first["dataset_id"] and oldest["status"] == "uploading"
    assert newest["verdict"] == "accepted"


async def test_a_completed_dataset_or_restart_starts_over(start_luna, submit, example, flaky_store):
    store, store_url = flaky_store
    luna = await start_luna(minio_public_endpoint=store_url)
    directory = example()
    # The manifest's URL is refused: the submission stops after upload/start, remembered.
    store.faults = {"manifest.csv": ["403"]}
    stopped = await submit(["--server", luna.url, str(directory)], env=luna.env())
    assert stopped.code == 2
    assert "run luna submit again to resume it" in stopped.err
    [first] = await datasets_of(luna)

    store.faults = {"manifest.csv": ["403"]}
    restarted = await submit(["--server", luna.url, "--restart", str(directory)], env=luna.env())
    assert restarted.code == 2
    assert (
        f"not resuming the unfinished dataset {first['dataset_id']} of this directory: "
        "--restart was given; starting a new dataset"
    ) in restarted.err
    second, _ = await datasets_of(luna)
    assert second["dataset_id"] != first["dataset_id"]

    # Completed elsewhere (another terminal, a script): its files take no more uploads.
    headers = await login(luna.client, luna.account)
    response = await luna.client.post(
        "/api/v1/upload/complete", json={"dataset_id": second["dataset_id"]}, headers=headers
    )
    assert response.status == 200
    result = await submit(["--server", luna.url, str(directory)], env=luna.env())
    assert result.code == 0, result.err + result.out
    assert (
        f"not resuming the unfinished dataset {second['dataset_id']} of this directory: the "
        f"server says: dataset {second['dataset_id']} was already completed"
    ) in result.err
    assert len(await datasets_of(luna)) == 3
    assert luna.saved_submissions() == []


async def test_the_embedded_store_takes_the_parts_too(
    start_luna_with_local_store, submit, large_example, small_parts
):
    luna = await start_luna_with_local_store(luna_validators=1, **small_parts)
    example = large_example()

    result = await submit(["--server", luna.url, str(example.directory)], env=luna.env())

    assert result.code == 0, result.err + result.out
    assert "ACCEPTED" in result.out
    [dataset] = await datasets_of(luna)
    assert dataset["verdict"] == "accepted"
    joined = await luna.client.app[DB].fetchval(
        "SELECT multipart_state FROM dataset_files WHERE filename = $1", example.large
    )
    assert joined == "completed"  # the store joined the parts the client sent


async def test_a_stored_file_whose_bytes_differ_from_its_declared_sha256_is_sent_again(
    start_luna_with_local_store, submit, example
):
    """The embedded store records each object's SHA-256 as it streams in, so `upload/urls`
    calls a file stored only when its bytes are the declared ones: a resume re-sends a file
    whose stored copy has the right size and the wrong bytes, instead of skipping it into an
    `upload.checksum_mismatch` rejection."""
    luna = await start_luna_with_local_store(luna_validators=1)
    directory = example(images=3)
    files = await hash_files(scan_directory(directory))
    headers = await login(luna.client, luna.account)
    started = await luna.client.post(
        "/api/v1/upload/start",
        json={"dataset_name": directory.name, "files": [f.declaration() for f in files]},
        headers=headers,
    )
    assert started.status == 200, await started.text()
    plan = await started.json()
    # An earlier run stored every file, one of them with other bytes of the same size, and
    # was interrupted before upload/complete.
    victim = next(f for f in files if f.filename.endswith(".png"))
    for entry in plan["upload_urls"]:
        body = (directory / entry["filename"]).read_bytes()
        if entry["filename"] == victim.filename:
            body = bytes(b ^ 0xFF for b in body)
        put = await luna.client.session.put(
            entry["upload_url"], data=body, headers=entry["headers"]
        )
        assert put.status == 200, await put.text()
    SubmissionMemory.for_directory(directory, state_dir=user_state_dir(luna.env())).save(
        UnfinishedSubmission.of(
            server_url=luna.url,
            username=luna.account.username,
            dataset_id=plan["dataset_id"],
            dataset_name=directory.name,
            directory=directory,
            files=files,
        )
    )

    again = await submit(["--server", luna.url, str(directory)], env=luna.env())

    assert again.code == 0, again.err + again.out
    count = len(files)
    assert f"resuming the interrupted submission ({count - 1} of {count} files" in again.err
    assert f"uploading what is missing: 1 of {count} files" in again.err
    assert "ACCEPTED" in again.out
    stored = luna.cache_dir.parent / "luna-data" / "objects"
    [victim_copy] = [
        p for p in stored.rglob(victim.filename.rsplit("/", 1)[-1]) if ".luna" not in str(p)
    ]
    assert victim_copy.read_bytes() == (directory / victim.filename).read_bytes()

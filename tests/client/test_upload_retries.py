"""Uploads that fail on the way to the store: retried when a retry can help, reported
clearly when it cannot. The store front (`flaky_store`) fails real PUTs, then forwards."""

from __future__ import annotations

import re

from luna.client.transfer import SinglePut


def final_upload_amounts(err: str) -> tuple[str, str]:
    line = [line for line in err.splitlines() if line.startswith("uploading")][-1]
    match = re.search(r"([\d.]+ \w+) / ([\d.]+ \w+)", line)
    assert match, line
    return match.group(1), match.group(2)


async def test_a_503_and_a_cut_connection_are_retried_and_the_dataset_is_accepted(
    start_luna, submit, example, flaky_store
):
    store, store_url = flaky_store
    store.faults = {"luna-0001_1.png": ["503"], "luna-0001_2.png": ["drop", "503"]}
    luna = await start_luna(minio_public_endpoint=store_url)

    result = await submit(["--server", luna.url, str(example())], env=luna.env())

    assert result.code == 0, result.err + result.out
    attempts = {key.rsplit("/", 1)[-1]: n for key, n in store.attempts.items()}
    assert attempts["luna-0001_1.png"] == 2
    assert attempts["luna-0001_2.png"] == 3
    assert attempts["manifest.csv"] == 1
    assert "images/luna-0001_1.png: attempt 1 failed (HTTP 503: SlowDown" in result.err
    assert "images/luna-0001_2.png: attempt 2 failed" in result.err
    done, total = final_upload_amounts(result.err)
    assert done == total  # bytes of failed attempts were taken back, not counted twice
    assert "ACCEPTED" in result.out


async def test_a_refused_upload_url_stops_at_once_with_a_clear_reason(
    start_luna, submit, example, flaky_store
):
    store, store_url = flaky_store
    store.faults = {"manifest.csv": ["403"]}
    luna = await start_luna(minio_public_endpoint=store_url)

    result = await submit(["--server", luna.url, str(example())], env=luna.env())

    assert result.code == 2
    attempts = {key.rsplit("/", 1)[-1]: n for key, n in store.attempts.items()}
    assert attempts["manifest.csv"] == 1
    assert (
        "manifest.csv: the store refused the upload (403: AccessDenied: Request has expired)"
        in result.err
    )
    assert "upload URL has expired" in result.err
    assert "was not completed; run luna submit again" in result.err


async def test_an_upload_that_keeps_failing_gives_up_after_its_attempts(
    start_luna, submit, example, flaky_store
):
    store, store_url = flaky_store
    store.faults = {"luna-0001_1.png": ["503"] * 5}
    luna = await start_luna(minio_public_endpoint=store_url)

    result = await submit(
        ["--server", luna.url, str(example())],
        env=luna.env(),
        choose_transfer=lambda file, target: SinglePut(attempts=2),
    )

    assert result.code == 2
    assert "images/luna-0001_1.png: gave up after 2 attempts" in result.err
    assert "HTTP 503: SlowDown" in result.err

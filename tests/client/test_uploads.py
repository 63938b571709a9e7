"""Uploads reach the store exactly as signed, whichever store luna runs."""

from __future__ import annotations

from luna.client.uploader import single_put_for_all


async def test_a_dataset_goes_through_the_embedded_store_which_checks_every_header(
    start_luna_with_local_store, submit, example
):
    luna = await start_luna_with_local_store()
    result = await submit(["--server", luna.url, str(example())], env=luna.env())
    assert result.code == 0, result.err + result.out
    assert "ACCEPTED" in result.out


async def test_each_put_sends_the_signed_headers_and_a_length_never_chunks(
    start_luna, submit, example, flaky_store
):
    store, store_url = flaky_store
    luna = await start_luna(minio_public_endpoint=store_url)
    directory = example()
    result = await submit(["--server", luna.url, str(directory)], env=luna.env())
    assert result.code == 0, result.err + result.out
    sent = {key.split("/", 3)[-1]: headers for key, headers in store.headers.items()}
    assert set(sent) == {
        p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()
    }
    for name, headers in sent.items():
        assert headers["Content-Length"] == str((directory / name).stat().st_size)
        assert "Transfer-Encoding" not in headers
        assert "Authorization" not in headers  # luna's token never goes to the store
    assert sent["manifest.csv"]["Content-Type"] == "text/csv"
    assert {h["Content-Type"] for n, h in sent.items() if n.endswith(".dcm")} == {
        "application/dicom"
    }


async def test_files_planned_for_multipart_still_go_whole_through_their_single_url(
    start_luna, submit, example
):
    luna = await start_luna(luna_multipart_threshold_bytes=100_000)
    planned: list[str] = []

    def choose(file, target):
        if target.multipart is not None:
            planned.append(file.filename)
        return single_put_for_all(file, target)

    result = await submit(
        ["--server", luna.url, str(example())], env=luna.env(), choose_transfer=choose
    )
    assert result.code == 0, result.err + result.out
    assert "ACCEPTED" in result.out
    assert "images/luna-0002_1.dcm" in planned  # 525 KB, over the 100 KB threshold

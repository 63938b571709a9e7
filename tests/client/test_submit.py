"""`luna submit` against a running luna: accepted, rejected, stopped early, refused."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from support import login

from luna.client.api import open_api
from luna.examples import write_example_dataset

ROOT = Path(__file__).resolve().parents[2]


async def datasets_of(luna) -> list[dict]:
    headers = await login(luna.client, luna.account)
    response = await luna.client.get("/api/v1/datasets", headers=headers)
    assert response.status == 200
    return (await response.json())["items"]


def last_line(text: str, prefix: str) -> str:
    return [line for line in text.splitlines() if line.startswith(prefix)][-1]


async def test_an_example_dataset_is_uploaded_validated_and_accepted(start_luna, submit, example):
    luna = await start_luna()
    result = await submit(
        ["--server", luna.url, "--name", "first try", str(example())], env=luna.env()
    )

    assert result.code == 0, result.err + result.out
    assert "ACCEPTED" in result.out
    assert "0 errors" in result.out and "4 images" in result.out
    uploading = last_line(result.err, "uploading")
    assert "100%" in uploading and "5/5 files" in uploading
    assert "validating 100%" in result.err
    [dataset] = await datasets_of(luna)
    assert dataset["dataset_name"] == "first try"
    assert dataset["verdict"] == "accepted"
    assert dataset["files"] == 5


async def test_manifest_errors_stop_the_submission_before_anything_is_uploaded(
    start_luna, submit, example
):
    luna = await start_luna()
    result = await submit(["--server", luna.url, str(example(broken=True))], env=luna.env())

    assert result.code == 1, result.err + result.out
    assert "nothing was uploaded" in result.out
    assert "manifest.bad_label" in result.out and "did you mean 'Pneumonia'?" in result.out
    assert "manifest.unlisted_image" in result.out and "images/extra_scan.png" in result.out
    assert "logged in" not in result.err
    assert await datasets_of(luna) == []


async def test_a_broken_dataset_forced_through_is_rejected_with_every_finding_shown(
    start_luna, submit, example
):
    luna = await start_luna()
    result = await submit(
        ["--server", luna.url, "--force", str(example(broken=True))], env=luna.env()
    )

    assert result.code == 1, result.err + result.out
    verdict = result.out.split("REJECTED", 1)[1]
    table = {line.split()[0] for line in verdict.splitlines()[2:] if line and not line[0].isspace()}
    assert {"manifest.bad_label", "manifest.unlisted_image", "image.corrupt"} <= table
    assert "images/cut_short.jpg" in verdict
    [dataset] = await datasets_of(luna)
    assert dataset["verdict"] == "rejected"


async def test_a_directory_without_manifest_is_stopped_without_contacting_the_server(
    tmp_path, submit
):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = await submit(
        ["--server", "http://127.0.0.1:9", str(tmp_path)], env={"LUNA_USERNAME": "x"}
    )
    assert result.code == 1
    assert "manifest.missing" in result.out


async def test_a_wrong_password_exits_2_with_the_servers_reason(start_luna, submit, example):
    luna = await start_luna()
    result = await submit(
        ["--server", luna.url, str(example())], env=luna.env(LUNA_PASSWORD="not-the-password")
    )
    assert result.code == 2
    assert "login as 'ada' refused: wrong username or password (HTTP 401)" in result.err
    assert await datasets_of(luna) == []


async def test_missing_credentials_without_a_terminal_exit_2(start_luna, submit, example):
    luna = await start_luna()
    result = await submit(["--server", luna.url, str(example())], env={})
    assert result.code == 2
    assert "set LUNA_USERNAME and LUNA_PASSWORD" in result.err


async def test_an_unreachable_server_exits_2(tmp_path, submit, example):
    result = await submit(
        ["--server", "http://127.0.0.1:9", str(example())],
        env={"LUNA_USERNAME": "ada", "LUNA_PASSWORD": "pw"},
    )
    assert result.code == 2
    assert "cannot reach luna at http://127.0.0.1:9" in result.err


async def test_field_errors_of_upload_start_are_shown(start_luna, submit, tmp_path):
    luna = await start_luna()
    directory = tmp_path / "odd"
    write_example_dataset(directory, images=1)
    (directory / "images" / "back\\slash.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = await submit(["--server", luna.url, "--force", str(directory)], env=luna.env())
    assert result.code == 2
    assert "contains '\\'; separate folders with '/'" in result.err
    assert "files[" in result.err  # the field to fix


async def test_json_output_of_the_real_command_is_one_status_document(start_luna, example):
    luna = await start_luna()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_")}
    env.update(luna.env(LUNA_SERVER=luna.url))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "luna.client",
        "submit",
        "--json",
        str(example()),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)

    assert process.returncode == 0, stderr.decode()
    status = json.loads(stdout)
    assert status["status"] == "completed"
    assert status["validation_results"]["verdict"] == "accepted"
    assert status["progress"] == {"files_done": 5, "files_total": 5}
    assert "%" not in stderr.decode()  # no progress bar for scripts


async def test_json_output_when_the_local_check_stops_is_one_document_of_findings(submit, example):
    result = await submit(
        ["--server", "http://127.0.0.1:9", "--json", str(example(broken=True))], env={}
    )
    assert result.code == 1
    document = json.loads(result.out)
    assert document["stage"] == "local_check"
    assert document["verdict"] == "rejected"
    assert {f["rule"] for f in document["findings"]} == {
        "manifest.bad_label",
        "manifest.unlisted_image",
    }


async def test_json_output_when_the_submission_cannot_finish_names_the_stage(submit, example):
    result = await submit(
        ["--server", "http://127.0.0.1:9", "--json", str(example())],
        env={"LUNA_USERNAME": "ada", "LUNA_PASSWORD": "pw"},
    )
    assert result.code == 2
    document = json.loads(result.out)
    assert document["stage"] == "login"
    assert document["status"] == "error"
    assert "cannot reach luna" in document["error"]


async def test_an_expired_token_is_renewed_with_the_same_credentials(start_luna):
    luna = await start_luna(luna_token_expires_s=1)
    async with open_api(luna.url) as api:
        await api.login(luna.account.username, luna.account.password)
        await asyncio.sleep(2.1)  # past the token's whole-second expiry
        assert (await api.list_datasets())["items"] == []

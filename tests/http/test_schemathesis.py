"""schemathesis against the document luna serves: generated requests (valid and invalid) for
every operation, bounded in examples and time. No answer may be a 5xx, and every answer must be
what the document says (status, content type, headers, body schema).

The run uses real PostgreSQL, RabbitMQ and moto S3, a logged-in team member's token, and one
dataset of its own that has been validated, so ids in generated requests sometimes hit it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from support import login, upload, wait_for_status

from luna.examples import write_example_dataset

# Bounds the run: a few dozen generated requests per operation and a time budget per phase.
MAX_EXAMPLES = 10
RUN_LIMIT_S = 240
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# The embedded store's PUT needs a signed URL that no generator can make: every generated
# request is a 403 (tests/storage covers it). /metrics and the docs are static answers.
SKIPPED_PATHS = r"^/(store/|metrics$|docs$)"
# Known 5xx being fixed elsewhere, each with its reason; an entry leaves its operation out of
# the run until the fix lands, then goes.
KNOWN_5XX: dict[str, str] = {}


async def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    make_client, add_account, tmp_path: Path
) -> None:
    client = await make_client(luna_validators=1)
    alice = await add_account("alice", team="red")
    headers = await login(client, alice)
    example = write_example_dataset(tmp_path / "example", images=2)
    files = {name: (example.directory / name).read_bytes() for name in example.files}
    dataset_id = await upload(client, headers, files)
    await wait_for_status(client, dataset_id, headers)

    base = str(client.make_url("")).rstrip("/")
    report = tmp_path / "schemathesis.xml"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/api/v1/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "2025",
        "--phases",
        "examples,coverage,fuzzing",
        "--exclude-path-regex",
        SKIPPED_PATHS,
        *(arg for operation in KNOWN_5XX for arg in ("--exclude-operation-id", operation)),
        "--header",
        f"Authorization:{headers['Authorization']}",
        "--request-timeout",
        "20",
        "--workers",
        "2",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        cwd=tmp_path,  # its cache folder goes there, not into the repo
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(RUN_LIMIT_S):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"schemathesis still running after {RUN_LIMIT_S} s") from None
    text = out.decode(errors="replace")
    assert process.returncode == 0, text
    assert "No issues found" in text or " passed" in text, text

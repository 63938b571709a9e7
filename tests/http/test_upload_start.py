"""upload/start: what it accepts, what it refuses, and the URLs it hands out."""

from __future__ import annotations

import hashlib

import pytest
from support import declare, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def file(**overrides):
    entry = {"filename": "a.png", "content_type": "image/png", "size_bytes": 108}
    entry.update(overrides)
    return entry


@pytest.fixture
async def team_client(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client(luna_max_files=5, luna_max_file_bytes=1000)
    return client, await login(client, account)


async def test_start_records_the_dataset_and_answers_presigned_put_urls(team_client):
    client, headers = team_client
    files = {"manifest.csv": b"filename,patient_id,label\n", "images/a.png": PNG}
    response = await client.post(
        "/api/v1/upload/start",
        json={
            "dataset_name": "first",
            "description": "d",
            "files": declare(files, content_type="image/png"),
        },
        headers=headers,
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert isinstance(body["dataset_id"], int)
    assert body["expires_in"] > 0
    assert [u["filename"] for u in body["upload_urls"]] == ["manifest.csv", "images/a.png"]
    for entry in body["upload_urls"]:
        assert entry["method"] == "PUT"
        assert entry["s3_key"] == f"datasets/{body['dataset_id']}/{entry['filename']}"
        assert entry["upload_url"].startswith("http")
        assert entry["headers"]["Content-Type"] == "image/png"
        assert isinstance(entry["file_id"], int)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"dataset_name": "x", "files": []}, 422, "files"),
        ({"files": [file()]}, 422, "dataset_name"),
        ({"dataset_name": "x", "files": [file()] * 6}, 413, "files"),
        ({"dataset_name": "x", "files": [file(size_bytes=-1)]}, 422, "files[0].size_bytes"),
        ({"dataset_name": "x", "files": [file(size_bytes=1001)]}, 413, "files[0].size_bytes"),
        ({"dataset_name": "x", "files": [file(size_bytes="12")]}, 422, "files[0].size_bytes"),
        ({"dataset_name": "x", "files": [file(sha256="abc")]}, 422, "files[0].sha256"),
        ({"dataset_name": "x", "files": [file(sha256="g" * 64)]}, 422, "files[0].sha256"),
        (
            {"dataset_name": "x", "files": [file(content_type="image/png; x=1")]},
            422,
            "files[0].content_type",
        ),
        ({"dataset_name": "x", "files": [file(content_type="png")]}, 422, "files[0].content_type"),
        (
            {"dataset_name": "x", "files": [file(filename="../etc/passwd")]},
            422,
            "files[0].filename",
        ),
        (
            {"dataset_name": "x", "files": [file(filename="a/../../b.png")]},
            422,
            "files[0].filename",
        ),
        ({"dataset_name": "x", "files": [file(filename="/abs.png")]}, 422, "files[0].filename"),
        ({"dataset_name": "x", "files": [file(filename="a\\b.png")]}, 422, "files[0].filename"),
        ({"dataset_name": "x", "files": [file(filename="a\x00.png")]}, 422, "files[0].filename"),
        ({"dataset_name": "x", "files": [file(filename="é" * 200)]}, 422, "files[0].filename"),
        ({"dataset_name": "x", "files": [file(filename="")]}, 422, "files[0].filename"),
        (
            {"dataset_name": "x", "files": [file(filename="A.PNG"), file(filename="a.png")]},
            422,
            "files[1].filename",
        ),
        ({"dataset_name": "x", "files": [{"filename": "a.png"}]}, 422, "files[0].content_type"),
        ({"dataset_name": "x", "files": "a.png"}, 422, "files"),
    ],
)
async def test_start_refuses_what_can_never_be_valid_naming_the_field(
    team_client, body, status, field
):
    client, headers = team_client
    response = await client.post("/api/v1/upload/start", json=body, headers=headers)
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert field in [e["field"] for e in problem["errors"]], problem


async def test_other_teams_id_is_forbidden_and_own_team_id_accepted(team_client, add_account):
    client, headers = team_client
    other = await add_account("bob", team="blue")
    own_team = (await client.get("/api/v1/datasets", headers=headers)).status
    assert own_team == 200
    refused = await client.post(
        "/api/v1/upload/start",
        json={"dataset_name": "x", "team_id": other.team_id, "files": [file()]},
        headers=headers,
    )
    assert refused.status == 403


async def test_unsupported_types_are_accepted_for_validation_not_refused(team_client):
    client, headers = team_client
    response = await client.post(
        "/api/v1/upload/start",
        json={"dataset_name": "x", "files": [file(filename="scan.gif", content_type="image/gif")]},
        headers=headers,
    )
    assert response.status == 200


@pytest.mark.parametrize(
    "raw",
    [b"", b"null", b"[]", b'"text"', b"{", b"\x00\x01", b'{"dataset_name": 1e999}'],
)
async def test_malformed_bodies_get_400_or_422_never_5xx(team_client, raw):
    client, headers = team_client
    response = await client.post(
        "/api/v1/upload/start", data=raw, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status in (400, 422), (raw, response.status)
    assert (await response.json())["detail"]


async def test_a_body_over_the_size_limit_gets_413(team_client):
    from luna.constants import MAX_REQUEST_BODY_BYTES

    client, headers = team_client
    response = await client.post(
        "/api/v1/upload/start",
        data=b"{" + b" " * (MAX_REQUEST_BODY_BYTES + 1) + b"}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert response.content_type == "application/problem+json"


async def test_declared_sha256_is_stored_lowercase(team_client, db):
    client, headers = team_client
    digest = hashlib.sha256(PNG).hexdigest().upper()
    response = await client.post(
        "/api/v1/upload/start",
        json={"dataset_name": "x", "files": [file(sha256=digest)]},
        headers=headers,
    )
    assert response.status == 200
    stored = await db.fetchval("SELECT sha256 FROM dataset_files")
    assert stored == digest.lower()

"""What a client can put in a URL or a filename gets a 4xx problem or works, never a 5xx."""

from __future__ import annotations

import pytest
from support import login, upload

# Characters `str.isdigit()` accepts but that are not ASCII decimal digits.
UNICODE_DIGITS = ["\u00b2", "\u00b3", "1\u00b2", "\u0663", "\uff19", "\U0001d7d9"]


async def test_unicode_digits_in_ids_limits_and_cursors_get_400(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    known = await upload(client, headers, {"a.csv": b"x"})
    for digits in UNICODE_DIGITS:
        urls = [
            (f"/api/v1/validation/{digits}/status", {}),
            (f"/api/v1/validation/{digits}/events", {}),
            (f"/api/v1/validation/{digits}/findings", {}),
            (f"/api/v1/validation/{known}/findings", {"limit": digits}),
            (f"/api/v1/validation/{known}/findings", {"cursor": digits}),
            ("/api/v1/datasets", {"limit": digits}),
            ("/api/v1/datasets", {"cursor": digits}),
            ("/api/v1/upload/parts", {"dataset_id": digits, "file_id": "1"}),
            ("/api/v1/upload/parts", {"dataset_id": str(known), "file_id": digits}),
        ]
        for path, params in urls:
            response = await client.get(path, params=params, headers=headers)
            assert response.status == 400, (path, params, response.status, await response.text())
            assert response.content_type == "application/problem+json"


async def test_a_findings_cursor_past_the_int4_range_gets_400(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    dataset_id = await upload(client, headers, {"a.csv": b"x"})
    for cursor in (str(2**31), str(2**40), "999999999999999999"):
        response = await client.get(
            f"/api/v1/validation/{dataset_id}/findings", params={"cursor": cursor}, headers=headers
        )
        assert response.status == 400, (cursor, await response.text())
        assert "cursor" in (await response.json())["detail"]
    largest = await client.get(
        f"/api/v1/validation/{dataset_id}/findings",
        params={"cursor": str(2**31 - 1)},
        headers=headers,
    )
    assert largest.status == 200


@pytest.mark.parametrize(
    "control", ["\u0080", "\u0085", "\u009b", "\u009f", "\x7f", "\x1b"], ids=repr
)
async def test_control_characters_in_filenames_are_refused(make_client, add_account, control):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    response = await client.post(
        "/api/v1/upload/start",
        json={
            "dataset_name": "d",
            "files": [
                {"filename": f"a{control}b.png", "content_type": "image/png", "size_bytes": 1}
            ],
        },
        headers=headers,
    )
    assert response.status == 422, await response.text()
    assert "control character" in (await response.json())["detail"]


async def test_odd_but_allowed_filenames_upload_on_both_stores(start_service):
    """A last segment as long as the 255-byte rule allows, and names that look like the
    embedded store's own temp files, upload and complete like any other."""
    service = await start_service()
    account = await service.add_account("alice", team="red")
    headers = await login(service.client, account)
    long_segment = "d/" + "n" * (255 - len("d/") - len(".csv")) + ".csv"
    assert len(long_segment.encode()) == 255
    files = {
        long_segment: b"id\n1\n",
        "x.luna-partial": b"plain bytes",
        "sub.luna-partial/inner.luna-partial": b"more bytes",
        ".abcdef0123456789.luna-partial": b"even this",
    }
    dataset_id = await upload(service.client, headers, files)
    listing = await service.client.get("/api/v1/datasets", headers=headers)
    assert [d["dataset_id"] for d in (await listing.json())["items"]] == [dataset_id]


async def test_method_not_allowed_says_which_methods_are(make_client):
    client = await make_client()
    for method, path, allowed in (
        ("DELETE", "/api/v1/auth/login", {"POST"}),
        ("POST", "/api/v1/datasets", {"GET", "HEAD"}),
        ("PATCH", "/health", {"GET", "HEAD"}),
    ):
        response = await client.request(method, path)
        assert response.status == 405, (method, path)
        assert response.content_type == "application/problem+json"
        assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
        assert (await response.json())["status"] == 405


async def test_unknown_routes_are_404_with_or_without_a_token(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    for path in ("/api/v1/api/v1/datasets", "/api/v2/datasets", "/nope", "/api/v1/validation/1"):
        for sent in ({}, headers, {"Authorization": "Bearer not-a-token"}):
            response = await client.get(path, headers=sent)
            assert response.status == 404, (path, sent, await response.text())
            assert response.content_type == "application/problem+json"
            assert "no route" in (await response.json())["detail"]


async def test_the_original_spec_paths_for_health_and_metrics_answer(make_client):
    client = await make_client()
    health = await client.get("/api/v1/health")
    assert health.status == 200, await health.text()
    assert (await health.json())["status"] == "healthy"
    metrics = await client.get("/api/v1/metrics")
    assert metrics.status == 200
    assert "http_requests" in await metrics.text()

"""No request body, however broken, gets a 5xx: every route answers a 4xx problem instead."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from support import login

ODD_VALUES = [
    None,
    True,
    0,
    -1,
    2**63,
    -(2**70),
    1.5,
    float("1e308"),
    "",
    "x" * 5000,
    "\u0000",
    "../../etc/passwd",
    "😀",
    [],
    [None],
    {},
    {"a": {"b": [1, {"c": None}]}},
]

VALID = {
    "/api/v1/auth/login": {"username": "alice", "password": "pw"},
    "/api/v1/upload/start": {
        "dataset_name": "d",
        "files": [{"filename": "a.png", "content_type": "image/png", "size_bytes": 10}],
    },
    "/api/v1/upload/complete": {"dataset_id": 1},
    "/api/v1/upload/parts": {"dataset_id": 1, "file_id": 1, "part_numbers": [1, 2]},
}


def mutations(body: dict) -> list[object]:
    """The valid body with each field (also nested in `files`) replaced by odd values."""
    out: list[object] = [value for value in ODD_VALUES if not isinstance(value, dict)]
    for key, value in itertools.product(body, ODD_VALUES):
        out.append({**body, key: value})
        out.append({k: v for k, v in body.items() if k != key})
    if "files" in body:
        for key, value in itertools.product(body["files"][0], ODD_VALUES):
            out.append({**body, "files": [{**body["files"][0], key: value}]})
    return out


RAW = [b"", b"{", b"\xff\xfe", b"null", b'{"a":' * 1000, b"[" * 10000, b"1" * 10000]


@pytest.mark.parametrize("path", sorted(VALID))
async def test_odd_json_bodies_get_4xx_problems(make_client, add_account, path):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    for body in mutations(VALID[path]):
        raw = json.dumps(body).encode()
        response = await client.post(
            path, data=raw, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status < 500, (body, response.status, await response.text())
        if response.status >= 400:
            assert response.content_type == "application/problem+json", body


@pytest.mark.parametrize("path", sorted(VALID))
async def test_garbage_bytes_get_4xx_problems(make_client, add_account, path):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    rng = random.Random(7)
    bodies = RAW + [rng.randbytes(rng.randint(1, 300)) for _ in range(40)]
    for content_type in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
        for raw in bodies:
            response = await client.post(
                path, data=raw, headers={**headers, "Content-Type": content_type}
            )
            assert response.status < 500, (raw[:50], content_type, response.status)
            assert 400 <= response.status < 500


async def test_odd_query_strings_get_4xx_or_200(make_client, add_account):
    account = await add_account("alice", team="red")
    client = await make_client()
    headers = await login(client, account)
    for params in (
        {"limit": "-1"},
        {"limit": "99999999999999999999"},
        {"cursor": "1e9"},
        {"cursor": "\uff19"},
        {"severity": "fatal"},
        {"rule": "x" * 3000},
    ):
        for path in ("/api/v1/datasets", "/api/v1/validation/1/findings", "/api/v1/upload/parts"):
            response = await client.get(path, params=params, headers=headers)
            assert response.status < 500, (path, params, response.status)

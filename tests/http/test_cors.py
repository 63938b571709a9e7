"""CORS for browser clients listed in CORS_ORIGINS."""

from __future__ import annotations


async def test_an_allowed_origin_gets_preflight_and_response_headers(make_client):
    client = await make_client(cors_origins=["https://teams.example.org"])
    preflight = await client.options(
        "/api/v1/upload/start",
        headers={
            "Origin": "https://teams.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://teams.example.org"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    login = await client.post(
        "/api/v1/auth/login",
        json={"username": "nobody", "password": "x"},
        headers={"Origin": "https://teams.example.org"},
    )
    assert login.status == 401
    assert login.headers["Access-Control-Allow-Origin"] == "https://teams.example.org"


async def test_other_origins_get_no_cors_headers(make_client):
    client = await make_client(cors_origins=["https://teams.example.org"])
    response = await client.get("/liveness", headers={"Origin": "https://evil.example.com"})
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers

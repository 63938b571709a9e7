"""The OpenAPI document luna serves: valid OpenAPI 3.1, covering every route the app registers,
and true: real answers of a whole upload-to-verdict flow match the schemas it gives."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from support import login, wait_for_status

from luna.examples import write_example_dataset
from luna.http.app import create_app
from luna.http.openapi import OPERATIONS, document, registered_routes


def _embedded(make_settings, tmp_path: Path) -> Any:
    return create_app(make_settings(minio_endpoint=None, luna_data_dir=tmp_path), mode="serve")


def test_the_document_is_valid_openapi_3_1(make_settings, tmp_path: Path) -> None:
    for app in (create_app(make_settings(), mode="serve"), _embedded(make_settings, tmp_path)):
        spec = document(app)
        assert spec["openapi"].startswith("3.1")
        validate(spec)


def test_every_registered_route_is_documented(make_settings, tmp_path: Path) -> None:
    for app in (create_app(make_settings(), mode="serve"), _embedded(make_settings, tmp_path)):
        spec = document(app)
        documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
        missing = registered_routes(app) - documented
        assert not missing, (
            f"routes with no entry in luna.http.openapi.OPERATIONS: {sorted(missing)}"
        )


def test_every_documented_operation_is_served(make_settings, tmp_path: Path) -> None:
    # The embedded-store app registers every route there is (the store's PUT included).
    served = registered_routes(_embedded(make_settings, tmp_path))
    stale = {(op.method, op.path) for op in OPERATIONS} - served
    assert not stale, f"OPERATIONS entries for routes no app registers: {sorted(stale)}"


def test_operations_carry_problems_security_and_examples(make_settings) -> None:
    spec = document(create_app(make_settings(), mode="serve"))
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    problem = spec["components"]["responses"]["Problem422"]["content"]
    assert "application/problem+json" in problem
    start = spec["paths"]["/api/v1/upload/start"]["post"]
    assert start["requestBody"]["content"]["application/json"]["example"]["files"]
    assert {"401", "413", "422", "429"} <= set(start["responses"])
    assert spec["paths"]["/api/v1/auth/login"]["post"]["security"] == []
    # The request schema is the handler's own model: its limits show up.
    files = spec["components"]["schemas"]["UploadStartRequest"]["properties"]["files"]
    assert files["minItems"] == 1


class Checker:
    """Checks answers against the document luna served."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.checked: set[tuple[str, str, int]] = set()

    def schema_for(self, method: str, path: str, status: int, media_type: str) -> Any:
        response = self.spec["paths"][path][method.lower()]["responses"][str(status)]
        if "$ref" in response:
            name = response["$ref"].rsplit("/", 1)[1]
            response = self.spec["components"]["responses"][name]
        return response["content"][media_type]["schema"]

    async def check(
        self, response: aiohttp.ClientResponse, method: str, path: str
    ) -> dict[str, Any]:
        media_type = response.content_type
        schema = self.schema_for(method, path, response.status, media_type)
        body = await response.json(content_type=None)
        jsonschema.validate(
            body,
            {**schema, "components": self.spec["components"]},
            cls=jsonschema.Draft202012Validator,
        )
        self.checked.add((method, path, response.status))
        return body


async def _get(client: TestClient, checker: Checker, path: str, template: str, headers):
    response = await client.get(path, headers=headers)
    return await checker.check(response, "GET", template)


async def test_real_answers_match_the_document(make_client, add_account, tmp_path: Path) -> None:
    client = await make_client(luna_validators=1, luna_multipart_threshold_bytes=100_000)
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    checker = Checker(await response.json())
    alice = await add_account("alice", team="red")

    response = await client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": alice.password}
    )
    await checker.check(response, "POST", "/api/v1/auth/login")
    response = await client.post("/api/v1/auth/login", json={"username": "alice", "password": "x"})
    await checker.check(response, "POST", "/api/v1/auth/login")
    headers = await login(client, alice)

    example = write_example_dataset(tmp_path / "example", images=3)
    data = {name: (example.directory / name).read_bytes() for name in example.files}
    files = [
        {
            "filename": name,
            "content_type": "text/csv" if name.endswith(".csv") else "application/octet-stream",
            "size_bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        for name, body in data.items()
    ]
    response = await client.post(
        "/api/v1/upload/start", json={"dataset_name": "d", "files": files}, headers=headers
    )
    started = await checker.check(response, "POST", "/api/v1/upload/start")
    dataset_id = started["dataset_id"]
    large = next(e for e in started["upload_urls"] if "multipart" in e)
    response = await client.post(
        "/api/v1/upload/parts",
        json={"dataset_id": dataset_id, "file_id": large["file_id"], "part_numbers": [1]},
        headers=headers,
    )
    await checker.check(response, "POST", "/api/v1/upload/parts")
    response = await client.get(
        f"/api/v1/upload/parts?dataset_id={dataset_id}&file_id={large['file_id']}",
        headers=headers,
    )
    await checker.check(response, "GET", "/api/v1/upload/parts")
    response = await client.post(
        "/api/v1/upload/urls", json={"dataset_id": dataset_id}, headers=headers
    )
    fresh = await checker.check(response, "POST", "/api/v1/upload/urls")
    await _get(
        client, checker, f"/api/v1/validation/{dataset_id}/status",
        "/api/v1/validation/{dataset_id}/status", headers,
    )  # fmt: skip

    async with aiohttp.ClientSession() as session:
        for entry in fresh["upload_urls"]:
            put_headers = {k: v for k, v in entry["headers"].items() if k != "Content-Length"}
            async with session.put(
                entry["upload_url"], data=data[entry["filename"]], headers=put_headers
            ) as put:
                assert put.status == 200, await put.text()
    response = await client.post(
        "/api/v1/upload/complete", json={"dataset_id": dataset_id}, headers=headers
    )
    await checker.check(response, "POST", "/api/v1/upload/complete")
    await wait_for_status(client, dataset_id, headers)
    for template in ("status", "findings"):
        path = f"/api/v1/validation/{{dataset_id}}/{template}"
        await _get(client, checker, path.format(dataset_id=dataset_id), path, headers)
    await _get(client, checker, "/api/v1/datasets", "/api/v1/datasets", headers)
    await _get(client, checker, "/api/v1/datasets?limit=0", "/api/v1/datasets", headers)
    await _get(client, checker, "/api/v1/datasets", "/api/v1/datasets", {})
    await _get(
        client, checker, "/api/v1/validation/999999/findings",
        "/api/v1/validation/{dataset_id}/findings", headers,
    )  # fmt: skip
    response = await client.post("/api/v1/upload/start", json={"files": []}, headers=headers)
    await checker.check(response, "POST", "/api/v1/upload/start")
    for probe in ("/health", "/readiness", "/liveness"):
        await _get(client, checker, probe, probe, {})

    statuses = {(path, status) for _, path, status in checker.checked}
    assert ("/api/v1/validation/{dataset_id}/status", 409) in statuses
    assert ("/api/v1/upload/start", 422) in statuses
    assert ("/api/v1/datasets", 401) in statuses


@pytest.mark.parametrize("path", ["/docs", "/docs/swagger-ui/swagger-ui-bundle.js"])
async def test_the_docs_page_and_its_files_are_served_without_a_token(make_client, path) -> None:
    client = await make_client()
    response = await client.get(path)
    assert response.status == 200
    assert len(await response.read()) > 100

"""Probes and metrics: what Kubernetes and Prometheus read."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

EXPECTED_METRICS = {
    "http_requests",
    "http_request_duration_seconds",
    "validation_queue_length",
    "validation_duration_seconds",
    "s3_upload_count",
    "s3_upload_bytes",
    "concurrent_uploads",
}


async def test_health_checks_each_backend(make_client):
    client = await make_client()
    response = await client.get("/health")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["status"] == "healthy"
    assert body["database"] == body["s3"] == body["broker"] == "ok"
    assert body["version"]
    assert body["backends"] == {"database": "postgresql", "s3": "s3", "broker": "rabbitmq"}


async def test_health_is_503_when_the_store_goes_away(make_client):
    from conftest import free_port
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = await make_client(minio_endpoint=f"http://127.0.0.1:{port}")
        assert (await client.get("/health")).status == 200
    finally:
        server.stop()
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unhealthy"
    assert body["s3"].startswith("unavailable")
    assert body["database"] == body["broker"] == "ok"


async def test_probes_answer_without_a_token(make_client):
    client = await make_client()
    assert (await client.get("/liveness")).status == 200
    assert (await client.get("/readiness")).status == 200


async def test_metrics_parse_as_prometheus_text(make_client):
    client = await make_client()
    await client.get("/liveness")
    response = await client.get("/metrics")
    assert response.status == 200
    families = {f.name for f in text_string_to_metric_families(await response.text())}
    assert EXPECTED_METRICS <= families, families


async def test_readiness_counts_live_validators_and_is_503_when_none_is_live(make_client):
    from luna.http.keys import POOL

    client = await make_client(luna_validators=2)
    response = await client.get("/readiness")
    assert response.status == 200, await response.text()
    assert (await response.json())["validators"] == {"live": 2, "configured": 2}
    supervisor = client.app[POOL]._supervisor  # kill them for good, as a wedged pod would be
    await supervisor.terminate_child("validator-0")
    body = await (await client.get("/readiness")).json()
    assert body["validators"] == {"live": 1, "configured": 2}
    await supervisor.terminate_child("validator-1")
    response = await client.get("/readiness")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "not ready"
    assert body["validators"] == {"live": 0, "configured": 2}

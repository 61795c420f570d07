"""/metrics: who may read it, and what it counts (parsed with Prometheus's own text parser)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from integration import runtime_of
from tests.helpers import AppFactory, add_shop, post_shopify
from tests.ops.conftest import sign_in

TOKEN = "metrics-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_needs_a_session_or_the_bearer_token(make_app: AppFactory, ops_user: int) -> None:
    app = make_app(metrics_token=TOKEN)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    sign_in(client)
    assert client.get("/metrics").status_code == 200


def test_no_token_configured_means_no_bearer_access(app: Flask) -> None:
    assert app.test_client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_metrics_count_webhooks_by_result_and_read_state(app: Flask, ops_client: FlaskClient) -> None:
    add_shop(runtime_of(app))
    client = app.test_client()
    body = b'{"id": 1, "customer": {"id": 2}}'
    assert post_shopify(client, body, webhook_id="m1").status_code == 200
    assert post_shopify(client, body, webhook_id="m1").status_code == 200
    assert client.post("/webhooks/shopify", data=body, headers={"X-Shopify-Hmac-Sha256": "forged"}).status_code == 401
    response = ops_client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    key = "pc_webhooks_received_total"
    assert found[(key, (("platform", "shopify"), ("result", "accepted"), ("topic", "orders/create")))] == 1
    assert found[(key, (("platform", "shopify"), ("result", "duplicate"), ("topic", "orders/create")))] == 1
    assert found[(key, (("platform", "shopify"), ("result", "rejected"), ("topic", "-")))] == 1
    assert found[("pc_webhook_ingest_seconds_count", (("platform", "shopify"),))] == 3
    assert found[("pc_events", (("status", "received"),))] == 1
    assert ("pc_queue_depth", (("queue", "events"),)) in found

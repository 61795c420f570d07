"""A whole flow through real processes (gunicorn, an RQ worker), then every log line they wrote is read:
JSON with a request id on web lines and the event id on job lines, and no customer's email, name or
phone, and no token or secret, anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.events.dispatch import relay_once
from integration.events.models import EventStatus, WebhookEvent
from integration.ops.accounts import create_user
from integration.ops.masking import PII_KEY
from tests.helpers import (
    SHOPIFY_TOKEN,
    LiveServer,
    RuntimeFactory,
    add_shop,
    fixture_bytes,
    shopify_headers,
    start_worker,
)
from tests.ops.conftest import OPS_EMAIL, OPS_PASSWORD

pytestmark = pytest.mark.slow

METRICS_TOKEN = "scrape-token-5f0c1d2e3a4b"


def pii_values(value: Any, key: str = "") -> set[str]:
    """Every string the masking rule calls customer data (emails, names, phones, addresses)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= pii_values(v, str(k)) if not PII_KEY.search(str(k)) else _strings(v)
    elif isinstance(value, list):
        for v in value:
            found |= pii_values(v, key)
    return found


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if len(value) >= 4 else set()
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def test_no_pii_or_secret_in_any_log_line(make_runtime: RuntimeFactory, settings: Settings) -> None:
    runtime: Runtime = make_runtime(metrics_token=METRICS_TOKEN)
    settings = runtime.settings
    shop = add_shop(runtime)
    with runtime.session() as db:
        create_user(db, OPS_EMAIL, OPS_PASSWORD)
    bodies = {
        topic: fixture_bytes(f"shopify/shopify_{topic.replace('/', '_')}.json")
        for topic in ("orders/create", "customers/create")
    }
    customer_data = set().union(*(pii_values(json.loads(b)) for b in bodies.values()))
    assert {"jon@example.com"} <= customer_data or any("@" in v for v in customer_data)
    secrets = {
        settings.secret_key,
        settings.token_encryption_key,
        settings.shopify_api_secret,
        settings.shopify_api_secret_previous,
        settings.bigcommerce_client_secret,
        SHOPIFY_TOKEN,
        OPS_PASSWORD,
        METRICS_TOKEN,
    }
    server = LiveServer(settings, workers=1)
    worker = None
    try:
        for i, (topic, body) in enumerate(bodies.items()):
            headers = shopify_headers(body, topic=topic, webhook_id=f"log-{i}", shop=shop.identifier)
            assert requests.post(server.url + "/webhooks/shopify", data=body, headers=headers, timeout=10).ok
        forged = requests.post(
            server.url + "/webhooks/shopify",
            data=bodies["orders/create"],
            headers={**shopify_headers(bodies["orders/create"], webhook_id="forged"), "X-Shopify-Hmac-Sha256": "AAAA"},
            timeout=10,
        )
        assert forged.status_code == 401
        with requests.Session() as browser:
            page = browser.get(server.url + "/ops/login", timeout=10).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            wrong = {"email": OPS_EMAIL, "password": "wrong " + OPS_PASSWORD, "csrf_token": token}
            assert browser.post(server.url + "/ops/login", data=wrong, timeout=10).status_code == 401
            right = {"email": OPS_EMAIL, "password": OPS_PASSWORD, "csrf_token": token}
            assert browser.post(server.url + "/ops/login", data=right, timeout=10).ok
            event_id = 1
            page = browser.get(f"{server.url}/ops/events/{event_id}", timeout=10).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            revealed = browser.post(
                f"{server.url}/ops/events/{event_id}/reveal", data={"csrf_token": token}, timeout=10
            )
            assert revealed.ok
        while relay_once(runtime):
            pass
        worker = start_worker(settings, burst=True)
        assert worker.wait(timeout=90) == 0
        with runtime.session() as db:
            statuses = set(db.scalars(sa.select(WebhookEvent.status)))
        assert statuses == {EventStatus.DONE}
        scrape = requests.get(
            server.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        ).text
        # The relay hands events to workers in batches: one batch job for these two.
        assert 'pc_job_duration_seconds_count{job="jobs.events.process_events"} 1.0' in scrape
        assert 'pc_webhooks_received_total{platform="shopify",result="rejected",topic="-"} 1.0' in scrape
    finally:
        server.stop()
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()

    logs = sorted(Path(settings.instance_path).glob("*.log"))
    lines = [line for log in logs for line in log.read_text(errors="replace").splitlines() if line.strip()]
    assert len(lines) > 10
    leaks = [(value, line) for line in lines for value in customer_data | secrets if value and value in line]
    assert leaks == []
    ours = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r.get("request_id") and r["logger"] == "webhooks" for r in ours)  # the forged request's warning
    assert any(r.get("event_id") or r.get("event_ids") for r in ours), "no job line names its event"
    # Every line of ours is JSON: the rest are gunicorn's and RQ's own start-up lines.
    for line in lines:
        if not line.startswith("{"):
            assert re.match(r"^\[\d{4}-\d\d-\d\d |^\d\d:\d\d:\d\d ", line), line

"""What both webhook endpoints do alike: a topic we do not handle is stored ignored, our own reconciliation
topics are never taken from outside, and storage that fails is a 503 the platform retries, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from integration.core.runtime import Runtime
from integration.events.intake import Delivery, StorageUnavailable, Stored
from integration.events.models import WebhookEvent
from tests.helpers import (
    BIGCOMMERCE_SECRET,
    SHOPIFY_PREVIOUS_SECRET,
    SHOPIFY_SECRET,
    STORE_HASH,
    AppFactory,
    add_shop,
    bigcommerce_body,
    free_port,
    post_bigcommerce,
    post_shopify,
)
from tests.webhooks.errors import assert_error, assert_ok

Rows = Callable[[], list[WebhookEvent]]

# A delivery whose content must never come back in an answer.
PRIVATE = "very-private-person@example.com"


@dataclass(frozen=True)
class Endpoint:
    send: Callable[[FlaskClient, str, str], TestResponse]  # (client, the store's webhook token, topic)
    topic: str  # an order's creation, in the platform's words
    unhandled: str  # a topic we subscribe to nothing for
    secrets: tuple[str, ...]  # the endpoint's own, never echoed either

    def post(self, client: FlaskClient, token: str, topic: str | None = None) -> TestResponse:
        """A delivery holding PRIVATE."""
        return self.send(client, token, topic or self.topic)


ENDPOINTS = {
    "shopify": Endpoint(
        lambda client, _token, topic: post_shopify(
            client, b'{"id": 1, "email": "' + PRIVATE.encode() + b'"}', topic=topic
        ),
        "orders/create",
        "products/create",
        (SHOPIFY_SECRET, SHOPIFY_PREVIOUS_SECRET),
    ),
    "bigcommerce": Endpoint(
        lambda client, token, topic: post_bigcommerce(client, bigcommerce_body(topic, email=PRIVATE), token),
        "store/order/created",
        "store/product/updated",
        (BIGCOMMERCE_SECRET,),
    ),
}


@pytest.fixture(params=sorted(ENDPOINTS))
def endpoint(request: pytest.FixtureRequest) -> Endpoint:
    return ENDPOINTS[request.param]


@pytest.fixture
def token(app_runtime: Runtime) -> str:
    """The webhook token of a registered BigCommerce store (Shopify's endpoint does not use it)."""
    return add_shop(app_runtime, "bigcommerce", STORE_HASH).webhook_token


def assert_retry_later(response: TestResponse, *not_echoed: str) -> None:
    assert_error(response, 503, PRIVATE, *not_echoed)
    assert response.headers["Retry-After"] == "30"


def test_unknown_topic_is_stored_ignored(client: FlaskClient, endpoint: Endpoint, token: str, stored: Rows) -> None:
    assert_ok(endpoint.post(client, token, endpoint.unhandled))
    [row] = stored()
    assert row.topic == endpoint.unhandled
    assert row.status == "ignored"
    assert row.last_error is not None
    assert endpoint.unhandled in row.last_error
    assert row.processed_at is not None
    assert row.processed_at == row.received_at


@pytest.mark.parametrize("topic", ["reconcile/order", "reconcile/customer"])
def test_reconciliation_topics_cannot_come_by_webhook(
    client: FlaskClient, endpoint: Endpoint, token: str, stored: Rows, topic: str
) -> None:
    assert_ok(endpoint.post(client, token, topic))
    [row] = stored()
    assert row.status == "ignored"


def _fail_store(delivery: Delivery) -> Stored:
    raise StorageUnavailable("OperationalError")


def test_storage_unavailable_answers_503_with_retry_after(
    app: Flask, client: FlaskClient, endpoint: Endpoint, token: str, stored: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.extensions["intake"], "store", _fail_store)
    assert_retry_later(endpoint.post(client, token), token, *endpoint.secrets)
    monkeypatch.undo()
    assert stored() == []
    # The same delivery, retried once storage is back, is stored.
    assert_ok(endpoint.post(client, token))
    assert len(stored()) == 1


def unreachable_database_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        return "sqlite:////nonexistent-dir/webhooks.db"
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test?connect_timeout=2"


def test_real_database_unavailable_answers_503_not_500(
    make_app: AppFactory, database_url: str, endpoint: Endpoint
) -> None:
    # BigCommerce's store cannot even be looked up: the token check itself answers 503 so it retries.
    client = make_app(testing=False, database_url=unreachable_database_url(database_url)).test_client()
    for _ in range(2):  # the first failure drops the connection; the next attempt must fail the same way
        assert_retry_later(endpoint.post(client, "some-token"), "some-token", *endpoint.secrets)

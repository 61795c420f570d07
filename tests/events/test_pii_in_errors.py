"""A database error while applying a change leaks no customer data into logs, last_error or the CLI.

SQLAlchemy's messages carry the statement's bound parameters (emails, names, addresses), and
PostgreSQL's own message can quote the failing row; both used to reach the worker's log, the event's
``last_error`` and so ``events list``, and (chained to the job's exception) RQ's stored traceback.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from integration.core.runtime import Runtime
from integration.events import processing
from integration.events.models import WebhookEvent
from integration.events.processing import EventFailed, EventProcessor
from tests.helpers import SHOP_DOMAIN, add_shop, fixture_bytes, invoke, post_shopify

PII_EMAIL = "ada.lovelace.private@example.com"
PII_NAME = "Augusta Ada King"
PII_STREET = "12 St James's Square"


@pytest.fixture
def failing_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Applying a change runs into a constraint with the customer's data in the statement."""
    real_apply = processing.apply_change

    def apply_then_fail(session: Session, shop_id: int, change: Any) -> None:
        real_apply(session, shop_id, change)
        session.execute(
            sa.text("INSERT INTO customers (shop_id, email, first_name, city) VALUES (NULL, :email, :name, :street)"),
            {"email": PII_EMAIL, "name": PII_NAME, "street": PII_STREET},
        )

    monkeypatch.setattr(processing, "apply_change", apply_then_fail)


def assert_clean(text: str, where: str) -> None:
    for value in (PII_EMAIL, PII_NAME, PII_STREET):
        assert value not in text, f"{value!r} in {where}"


@pytest.mark.usefixtures("failing_apply")
def test_a_database_error_is_recorded_by_class_and_event_never_by_value(
    app: Flask, app_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_shop(app_runtime)
    body = fixture_bytes("shopify/shopify_orders_create.json")
    assert post_shopify(app.test_client(), body, shop=SHOP_DOMAIN, webhook_id="pii-1").status_code == 200
    with app_runtime.session() as session:
        event_id = session.scalars(sa.select(WebhookEvent.id)).one()

    processor = EventProcessor(app_runtime)
    for retries_left in (1, 0):  # a retried failure, then the final one
        with pytest.raises(EventFailed) as failure:
            processor.process(event_id, retries_left=retries_left)
        # What RQ logs and keeps in Redis for the failed job: the exception and everything chained to it.
        assert_clean("".join(traceback.format_exception(failure.value)), "the job's exception")

    with app_runtime.session() as session:
        status, last_error = session.execute(
            sa.select(WebhookEvent.status, WebhookEvent.last_error).where(WebhookEvent.id == event_id)
        ).one()
    assert status == "failed"
    assert last_error == f"IntegrityError while applying event {event_id} (values withheld)"
    assert_clean(caplog.text, "the log")
    assert f"event {event_id}" in caplog.text and "IntegrityError" in caplog.text

    for args in (["events", "list"], ["events", "list", "--json"], ["events", "list", "--status", "failed"]):
        result = invoke(app, *args)
        assert result.exit_code == 0, result.output
        assert_clean(result.output, " ".join(args))
    listed = json.loads(invoke(app, "events", "list", "--json").output)
    assert [e["last_error"] for e in listed] == [last_error]


def test_the_engines_hide_bound_parameters(app_runtime: Runtime) -> None:
    # Wherever else a statement fails (reconciliation's cursor error, a log line), no value rides along.
    with pytest.raises(sa.exc.DBAPIError) as failure, app_runtime.session() as session:
        session.execute(sa.text("INSERT INTO customers (shop_id, email) VALUES (NULL, :email)"), {"email": PII_EMAIL})
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(failure.value)
    assert PII_EMAIL not in str(failure.value).split("DETAIL")[0]  # PostgreSQL's DETAIL is the DB's own text

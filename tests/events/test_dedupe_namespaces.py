"""Dedupe keys: a delivery's key (chosen by whoever sends it) never meets reconciliation's.

A Shopify webhook id is an unsigned header and a BigCommerce key is built from the body's scope and
hash, so either could spell the key reconciliation stores for an order version; with one shared
namespace the delivery arriving first silently stopped reconciliation from storing that order.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask

from integration.core.config import Settings
from integration.core.db import create_db_engine
from integration.core.migrate import alembic_config, upgrade
from integration.core.runtime import Runtime
from integration.events.intake import Delivery, EventIntake
from integration.events.models import WebhookEvent, dedupe_key
from integration.sync.reconcile import reconcile_shop
from tests.fakes.bigcommerce_api import FakeBigCommerce, sample_order
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import (
    BC_TOKEN,
    SHOP_DOMAIN,
    STORE_HASH,
    add_shop,
    post_bigcommerce,
    post_shopify,
)

UPDATED = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
RECONCILE_KEY = "reconcile:orders:5001:20261101T120000.000000Z"


@pytest.fixture
def settings(settings: Settings, fake_shopify: FakeShopify, fake_bc: FakeBigCommerce) -> Settings:
    return settings.replace(
        shopify_admin_url=fake_shopify.admin_url_template, bigcommerce_api_url=fake_bc.url, backfill_days=3650
    )


def rows(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.session() as session:
        found = session.execute(
            sa.select(WebhookEvent.topic, WebhookEvent.dedupe_key, WebhookEvent.status).order_by(WebhookEvent.id)
        )
        return [tuple(row) for row in found]  # type: ignore[misc]


def test_a_shopify_webhook_id_cannot_take_reconciliations_key(
    app: Flask, app_runtime: Runtime, shopify: FakeShopify
) -> None:
    shop_id = add_shop(app_runtime).id
    shopify.add_order(SHOP_DOMAIN, 5001, "2026-11-01T12:00:00Z")
    # A delivery (genuine or not: the header is unsigned) whose webhook id is reconciliation's key.
    response = post_shopify(app.test_client(), b'{"id": 1}', topic="orders/updated", webhook_id=RECONCILE_KEY)
    assert response.status_code == 200

    assert reconcile_shop(app_runtime, shop_id).stored == 1  # before: 0, the order version was "already stored"
    assert rows(app_runtime) == [
        ("orders/updated", f"webhook:{RECONCILE_KEY}", "received"),
        ("reconcile/order", RECONCILE_KEY, "received"),
    ]


def test_a_bigcommerce_scope_and_hash_cannot_take_reconciliations_key(
    app: Flask, app_runtime: Runtime, fake_bc: FakeBigCommerce
) -> None:
    shop = add_shop(app_runtime, "bigcommerce", STORE_HASH, BC_TOKEN)
    fake_bc.add_order(STORE_HASH, sample_order(id=5001, date_modified="Sun, 01 Nov 2026 12:00:00 +0000"))
    # "scope:hash" spells reconciliation's key when the scope is "reconcile" (stored, as ignored).
    body = json.dumps(
        {"scope": "reconcile", "producer": f"stores/{STORE_HASH}", "hash": RECONCILE_KEY.removeprefix("reconcile:")}
    ).encode()
    assert post_bigcommerce(app.test_client(), body, shop.webhook_token).status_code == 200

    assert reconcile_shop(app_runtime, shop.id).stored == 1
    assert [key for _topic, key, _status in rows(app_runtime)] == [f"webhook:{RECONCILE_KEY}", RECONCILE_KEY]


def test_every_key_names_its_namespace() -> None:
    assert dedupe_key("webhook", "reconcile:x") == "webhook:reconcile:x"
    with pytest.raises(ValueError, match="namespace"):
        dedupe_key("reconcile:orders", "x")


# --- the migration --------------------------------------------------------------------------------------


def insert(connection: sa.Connection, **row: Any) -> None:
    values = {
        "platform": "shopify",
        "shop": SHOP_DOMAIN,
        "webhook_id": row["dedupe_key"],
        "body": b"{}",
        "status": "done",
        "attempts": 1,
        "duplicates": 0,
        "received_at": dt.datetime(2026, 1, 1),
        **row,
    }
    columns = ", ".join(values)
    connection.execute(
        sa.text(f"INSERT INTO webhook_events ({columns}) VALUES ({', '.join(':' + c for c in values)})"),  # noqa: S608
        values,
    )


def keys(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.text("SELECT dedupe_key FROM webhook_events ORDER BY id")))


def test_the_migration_moves_stored_webhook_keys_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0005")
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            insert(connection, topic="orders/create", dedupe_key="b54557e4-bdd9")
            insert(
                connection,
                platform="bigcommerce",
                shop=STORE_HASH,
                topic="store/order/created",
                dedupe_key="store/order/created:dd70c0",
            )
            insert(connection, topic="reconcile/order", dedupe_key=RECONCILE_KEY)
            # A webhook that only looked like reconciliation's (stored ignored) is a webhook all the same.
            insert(connection, topic="reconcile/order", dedupe_key="wh-7", status="ignored")
        before = keys(engine)

        upgrade(url, "head")
        assert keys(engine) == [
            "webhook:b54557e4-bdd9",
            "webhook:store/order/created:dd70c0",
            RECONCILE_KEY,
            "webhook:wh-7",
        ]
        # Shopify retrying a delivery stored before the upgrade is still a duplicate, not a new event.
        intake = EventIntake(engine)
        try:
            stored = intake.store(
                Delivery("shopify", SHOP_DOMAIN, "orders/create", "b54557e4-bdd9", "b54557e4-bdd9", b"{}")
            )
        finally:
            intake.close()
        assert stored.duplicate

        command.downgrade(alembic_config(url), "0005")
        assert keys(engine) == before
    finally:
        engine.dispose()

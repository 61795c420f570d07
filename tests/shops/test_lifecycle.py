"""Uninstall: tokens destroyed, shop marked, per-shop jobs cancelled; a reinstall brings it all back."""

from __future__ import annotations

import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.shops.lifecycle import uninstall
from integration.shops.models import Shop, ShopState
from integration.shops.registry import register_shop
from integration.sync.reconcile import enqueue_reconciliations
from tests.helpers import SHOP_DOMAIN, add_customer, add_shop


def test_uninstall_then_reinstall(runtime: Runtime) -> None:
    shop = add_shop(runtime)
    add_customer(runtime, shop.id, email="kept@example.com")
    enqueue_reconciliations(runtime, [shop.id])
    assert runtime.queue("bulk").job_ids == [f"reconcile-{shop.id}"]

    assert uninstall(runtime, shop.id) is True
    assert uninstall(runtime, shop.id) is False  # repeated notice: nothing more to do
    assert runtime.queue("bulk").job_ids == []
    with runtime.session() as session:
        row = session.get(Shop, shop.id)
        assert row is not None
        assert (row.state, row.access_token_enc, row.refresh_token_enc, row.webhook_token_enc) == (
            ShopState.UNINSTALLED,
            None,
            None,
            None,
        )
        assert row.uninstalled_at is not None

    with runtime.session() as session:
        again = register_shop(session, runtime.cipher, "shopify", SHOP_DOMAIN, "shpat_new")
    assert again.id == shop.id
    with runtime.session() as session:
        row = session.get(Shop, shop.id)
        assert row is not None
        assert row.state == ShopState.ACTIVE and row.uninstalled_at is None
        assert runtime.cipher.decrypt(row.access_token_enc or "") == "shpat_new"
        assert session.scalar(sa.select(Customer.email).where(Customer.shop_id == shop.id)) == "kept@example.com"

"""An uninstall notice destroys a shop's tokens only once the platform confirms the app is gone.

The platforms revoke the app's token when the app is uninstalled, so the shop's own stored token is
the witness: still accepted means installed (the notice is refused), 401 means gone. Both platforms'
fakes answer over real HTTP.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.events.intake import EventIntake
from integration.events.models import WebhookEvent
from integration.events.processing import EventFailed, EventProcessor, Outcome
from integration.platforms.interfaces import TransientPlatformError
from integration.shops import lifecycle
from integration.shops.lifecycle import STALE_REASON, STILL_INSTALLED_REASON, Verdict, confirm_uninstall
from integration.shops.models import Shop, ShopState
from integration.shops.registry import TokenGrant
from tests.fakes.bigcommerce_api import FakeBigCommerce
from tests.fakes.shopify_admin import FakeShopify
from tests.helpers import BC_TOKEN, SHOP_DOMAIN, SHOPIFY_TOKEN, STORE_HASH, add_shop, shop_row, store_shopify_event


@pytest.fixture
def settings(settings: Settings, fake_shopify: FakeShopify, fake_bc: FakeBigCommerce) -> Settings:
    fake_shopify.oauth.configure(api_key=settings.shopify_api_key, secret=settings.shopify_api_secret)
    return settings.replace(shopify_admin_url=fake_shopify.admin_url_template, bigcommerce_api_url=fake_bc.url)


@pytest.fixture
def shopify_shop(runtime: Runtime, shopify: FakeShopify) -> int:
    return add_shop(runtime).id


@pytest.fixture
def bc_store(runtime: Runtime, fake_bc: FakeBigCommerce) -> int:
    return add_shop(runtime, "bigcommerce", STORE_HASH, BC_TOKEN).id


def assert_installed(runtime: Runtime, shop_id: int, token: str) -> None:
    shop = shop_row(runtime, shop_id)
    assert shop.state == ShopState.ACTIVE
    assert runtime.cipher.decrypt(shop.access_token_enc or "") == token
    assert shop.webhook_token_enc is not None


def assert_uninstalled(runtime: Runtime, shop_id: int) -> None:
    shop = shop_row(runtime, shop_id)
    assert (shop.state, shop.access_token_enc, shop.refresh_token_enc, shop.webhook_token_enc) == (
        ShopState.UNINSTALLED,
        None,
        None,
        None,
    )


def test_a_notice_for_a_shop_whose_token_still_works_is_refused(runtime: Runtime, shopify_shop: int) -> None:
    outcome = confirm_uninstall(runtime, shopify_shop, utcnow())
    assert (outcome.verdict, outcome.reason, outcome.refused) == (
        Verdict.STILL_INSTALLED,
        STILL_INSTALLED_REASON,
        True,
    )
    assert_installed(runtime, shopify_shop, SHOPIFY_TOKEN)


def test_a_401_confirms_it(runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int) -> None:
    fake_shopify.revoke(SHOP_DOMAIN)
    assert confirm_uninstall(runtime, shopify_shop, utcnow()).verdict == Verdict.UNINSTALLED
    assert_uninstalled(runtime, shopify_shop)
    assert confirm_uninstall(runtime, shopify_shop, utcnow()).verdict == Verdict.ALREADY


def test_bigcommerce_alike(runtime: Runtime, fake_bc: FakeBigCommerce, bc_store: int) -> None:
    assert confirm_uninstall(runtime, bc_store, utcnow()).verdict == Verdict.STILL_INSTALLED
    assert_installed(runtime, bc_store, BC_TOKEN)
    fake_bc.revoke(STORE_HASH)
    assert confirm_uninstall(runtime, bc_store, utcnow()).verdict == Verdict.UNINSTALLED
    assert_uninstalled(runtime, bc_store)


def test_a_platform_that_cannot_answer_leaves_the_shop_alone(
    runtime: Runtime, fake_bc: FakeBigCommerce, bc_store: int
) -> None:
    fake_bc.queue_response("GET", "/v3/hooks", 503)
    with pytest.raises(TransientPlatformError):
        confirm_uninstall(runtime, bc_store, utcnow())
    assert_installed(runtime, bc_store, BC_TOKEN)


def test_a_notice_older_than_the_last_install_is_stale_without_asking(
    runtime: Runtime, fake_shopify: FakeShopify, shopify_shop: int
) -> None:
    fake_shopify.revoke(SHOP_DOMAIN)  # would confirm, were it asked
    outcome = confirm_uninstall(runtime, shopify_shop, utcnow() - dt.timedelta(hours=2))
    assert (outcome.verdict, outcome.reason) == (Verdict.STALE, STALE_REASON)
    assert fake_shopify.graphql_requests() == []
    assert_installed(runtime, shopify_shop, SHOPIFY_TOKEN)


def test_an_expired_token_is_refreshed_before_it_is_asked_about(runtime: Runtime, fake_shopify: FakeShopify) -> None:
    # An expired token is refused (401) by an installed shop too: asking with it would "confirm" wrongly.
    fake_shopify.add_shop(SHOP_DOMAIN, "shpat_expired")
    fake_shopify.oauth.set_refresh_token(SHOP_DOMAIN, "shprt_live")
    expired = TokenGrant(refresh_token="shprt_live", access_expires_at=utcnow() - dt.timedelta(minutes=1))
    shop_id = add_shop(runtime, "shopify", SHOP_DOMAIN, "shpat_expired", grant=expired).id
    fake_shopify.add_shop(SHOP_DOMAIN, "shpat_expired-and-refused")  # Shopify no longer takes it
    fake_shopify.oauth.set_refresh_token(SHOP_DOMAIN, "shprt_live")
    assert confirm_uninstall(runtime, shop_id, utcnow()).verdict == Verdict.STILL_INSTALLED
    assert shop_row(runtime, shop_id).state == ShopState.ACTIVE
    assert fake_shopify.oauth.calls["refresh_token"] == 1


def test_a_reinstall_during_the_check_keeps_its_new_token(
    runtime: Runtime, shopify_shop: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = lifecycle.connect

    def reinstalled_meanwhile(*args: object, **kwargs: object) -> object:
        connection = real_connect(*args, **kwargs)  # type: ignore[arg-type]

        def refused_then_reinstalled() -> bool:
            add_shop(runtime, token="shpat_new_install")
            return False

        connection.token_accepted = refused_then_reinstalled  # type: ignore[method-assign]
        return connection

    monkeypatch.setattr(lifecycle, "connect", reinstalled_meanwhile)
    outcome = confirm_uninstall(runtime, shopify_shop, utcnow())
    assert outcome.verdict == Verdict.STALE
    assert_installed(runtime, shopify_shop, "shpat_new_install")


# --- through processing: the notice a merchant of another shop could once forge ---------------------------


def stored_notice(runtime: Runtime, intake: EventIntake) -> int:
    """An app/uninstalled event as the edge would store it for a body that names the shop."""
    body = b'{"id": 1, "myshopify_domain": "' + SHOP_DOMAIN.encode() + b'"}'
    return store_shopify_event(intake, body, topic="app/uninstalled", webhook_id="un-1", triggered_at=utcnow())


def event(runtime: Runtime, event_id: int) -> tuple[str, str | None, int]:
    with runtime.session() as session:
        found = session.get(WebhookEvent, event_id)
        assert found is not None
        return found.status, found.last_error, found.attempts


def test_processing_refuses_an_uninstall_the_platform_does_not_confirm(
    runtime: Runtime, intake: EventIntake, shopify_shop: int
) -> None:
    event_id = stored_notice(runtime, intake)
    processor = EventProcessor(runtime)
    with pytest.raises(EventFailed):  # asked again after RQ's first retry interval
        processor.process(event_id, retries_left=5)
    status, error, attempts = event(runtime, event_id)
    assert (status, attempts) == ("received", 1)
    assert error is not None and STILL_INSTALLED_REASON in error
    assert processor.process(event_id, retries_left=4) == Outcome.IGNORED
    assert event(runtime, event_id) == ("ignored", STILL_INSTALLED_REASON, 2)
    assert_installed(runtime, shopify_shop, SHOPIFY_TOKEN)


def test_processing_uninstalls_once_the_platform_confirms(
    runtime: Runtime, intake: EventIntake, fake_shopify: FakeShopify, shopify_shop: int
) -> None:
    event_id = stored_notice(runtime, intake)
    fake_shopify.revoke(SHOP_DOMAIN)
    assert EventProcessor(runtime).process(event_id, retries_left=5) == Outcome.DONE
    assert event(runtime, event_id) == ("done", None, 1)
    assert_uninstalled(runtime, shopify_shop)
    with runtime.session() as session:
        assert session.scalar(sa.select(Shop.uninstalled_at).where(Shop.id == shopify_shop)) is not None

"""EventIntake: the request path's one durable write, on both backends."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from integration.core.db import create_db_engine
from integration.core.runtime import Runtime
from integration.events.intake import Delivery, EventIntake, StorageUnavailable
from integration.events.models import EventStatus, WebhookEvent
from integration.shops.models import ShopState
from integration.shops.registry import hash_webhook_token
from tests.helpers import SHOP_DOMAIN, STORE_HASH, add_shop


def delivery(**overrides: object) -> Delivery:
    values: dict[str, object] = {
        "platform": "shopify",
        "shop": SHOP_DOMAIN,
        "topic": "orders/create",
        "webhook_id": "wh-1",
        "dedupe_key": "wh-1",
        "body": b'{"id": 1}',
    }
    values.update(overrides)
    return Delivery(**values)  # type: ignore[arg-type]


def rows(runtime: Runtime) -> list[WebhookEvent]:
    with runtime.session() as session:
        return list(session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)))


def test_store_returns_the_new_ids(runtime: Runtime, intake: EventIntake) -> None:
    first = intake.store(delivery())
    second = intake.store(delivery(webhook_id="wh-2", dedupe_key="wh-2", body=b'{"id": 2}'))
    assert not first.duplicate
    assert not second.duplicate
    assert second.event_id != first.event_id
    stored = rows(runtime)
    assert [r.id for r in stored] == [first.event_id, second.event_id]
    row = stored[0]
    assert (row.platform, row.shop, row.topic, row.webhook_id, row.dedupe_key) == (
        "shopify",
        SHOP_DOMAIN,
        "orders/create",
        "wh-1",
        "webhook:wh-1",  # a delivery's key, in the webhook namespace
    )
    assert row.body == b'{"id": 1}'
    assert row.status == EventStatus.RECEIVED
    assert (row.attempts, row.duplicates) == (0, 0)
    assert row.last_error is None
    assert row.processed_at is None
    assert row.queued_at is None


def test_store_keeps_every_delivery_field(runtime: Runtime, intake: EventIntake) -> None:
    triggered = dt.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)
    stored = intake.store(
        delivery(
            platform="bigcommerce",
            shop=STORE_HASH,
            topic="store/order/created",
            webhook_id="msg_1",
            dedupe_key="store/order/created:abc",
            delivery_id="msg_1",
            event_id="ev-9",
            api_version="v3",
            triggered_at=triggered,
            subscription_name="orders",
            body=b"\x00binary\xff",
        )
    )
    with runtime.session() as session:
        row = session.get(WebhookEvent, stored.event_id)
        assert row is not None
        assert (row.delivery_id, row.event_id, row.api_version, row.subscription_name) == (
            "msg_1",
            "ev-9",
            "v3",
            "orders",
        )
        assert row.triggered_at == triggered
        assert row.body == b"\x00binary\xff"


def test_duplicate_is_counted_on_the_first_row(runtime: Runtime, intake: EventIntake) -> None:
    first = intake.store(delivery())
    again = intake.store(delivery(body=b'{"id": 1, "resent": true}'))
    third = intake.store(delivery())
    assert again.duplicate
    assert third.duplicate
    assert again.event_id == first.event_id == third.event_id
    (row,) = rows(runtime)
    assert row.duplicates == 2
    assert row.body == b'{"id": 1}'  # the first delivery's body stays


def test_many_duplicates_are_all_counted(runtime: Runtime, intake: EventIntake) -> None:
    # Enough repeats on one connection for psycopg to switch to a server-side prepared statement.
    first = intake.store(delivery())
    results = [intake.store(delivery()) for _ in range(12)]
    assert all(r.duplicate and r.event_id == first.event_id for r in results)
    (row,) = rows(runtime)
    assert row.duplicates == 12


def test_same_dedupe_key_in_another_shop_or_platform_is_not_a_duplicate(runtime: Runtime, intake: EventIntake) -> None:
    intake.store(delivery())
    other_shop = intake.store(delivery(shop="other-shop.myshopify.com"))
    other_platform = intake.store(delivery(platform="bigcommerce", shop=SHOP_DOMAIN))
    assert not other_shop.duplicate
    assert not other_platform.duplicate
    assert [r.duplicates for r in rows(runtime)] == [0, 0, 0]


def test_dedupe_by_delivery_id_across_dedupe_keys(runtime: Runtime, intake: EventIntake) -> None:
    first = intake.store(delivery(platform="bigcommerce", shop=STORE_HASH, dedupe_key="k:1", delivery_id="d-1"))
    # The same delivery id with a different dedupe key (BigCommerce recomputed its marker).
    again = intake.store(delivery(platform="bigcommerce", shop=STORE_HASH, dedupe_key="k:2", delivery_id="d-1"))
    assert again.duplicate
    assert again.event_id == first.event_id
    (row,) = rows(runtime)
    assert row.dedupe_key == "webhook:k:1"
    assert row.duplicates == 1


def test_a_repeat_is_counted_once_even_when_its_keys_match_two_rows(runtime: Runtime, intake: EventIntake) -> None:
    bc = {"platform": "bigcommerce", "shop": STORE_HASH}
    first = intake.store(delivery(**bc, dedupe_key="k:1", delivery_id="d-1"))
    intake.store(delivery(**bc, dedupe_key="k:2", delivery_id="d-2"))
    repeat = intake.store(delivery(**bc, dedupe_key="k:1", delivery_id="d-2"))
    assert repeat.duplicate
    assert repeat.event_id == first.event_id
    assert [r.duplicates for r in rows(runtime)] == [1, 0]  # one delivery, counted once


def test_deliveries_without_delivery_id_dedupe_by_key_only(runtime: Runtime, intake: EventIntake) -> None:
    a = intake.store(delivery(dedupe_key="k:1"))
    b = intake.store(delivery(dedupe_key="k:2"))
    assert not a.duplicate
    assert not b.duplicate
    assert len(rows(runtime)) == 2


def test_ignored_reason_stores_an_ignored_finished_row(runtime: Runtime, intake: EventIntake) -> None:
    before = dt.datetime.now(dt.UTC)
    stored = intake.store(delivery(topic="carts/create", ignored_reason="topic 'carts/create' is not one we handle"))
    after = dt.datetime.now(dt.UTC)
    (row,) = rows(runtime)
    assert row.id == stored.event_id
    assert row.status == EventStatus.IGNORED
    assert row.last_error == "topic 'carts/create' is not one we handle"
    assert row.processed_at is not None
    assert before <= row.processed_at <= after
    assert row.processed_at == row.received_at


def test_datetimes_round_trip_as_aware_utc(runtime: Runtime, intake: EventIntake) -> None:
    plus_five = dt.timezone(dt.timedelta(hours=5, minutes=30))
    triggered = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=plus_five)
    before = dt.datetime.now(dt.UTC)
    intake.store(delivery(triggered_at=triggered, ignored_reason="x"))
    after = dt.datetime.now(dt.UTC)
    (row,) = rows(runtime)
    for value in (row.triggered_at, row.received_at, row.processed_at):
        assert value is not None
        assert value.tzinfo is not None
        assert value.utcoffset() == dt.timedelta(0)
    assert row.triggered_at == triggered
    assert row.triggered_at == dt.datetime(2026, 1, 1, 21, 34, 5, 123456, tzinfo=dt.UTC)
    assert before <= row.received_at <= after
    # Stored in UTC on both backends, as the ORM itself would store it.
    with runtime.engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT triggered_at FROM webhook_events")).scalar_one()
    if runtime.engine.dialect.name == "sqlite":
        assert str(raw).startswith("2026-01-01 21:34:05.123456")
    else:
        assert raw == triggered


def test_naive_datetimes_are_refused(intake: EventIntake) -> None:
    with pytest.raises(ValueError, match="naive"):
        intake.store(delivery(triggered_at=dt.datetime(2026, 1, 1, 12, 0)))


def test_webhook_token_hash_of_active_unknown_and_uninstalled_shops(runtime: Runtime, intake: EventIntake) -> None:
    active = add_shop(runtime, "bigcommerce", STORE_HASH, "tok")
    add_shop(runtime, "bigcommerce", "zzz999", "tok", state=ShopState.UNINSTALLED)  # gone

    assert intake.webhook_token_hash("bigcommerce", STORE_HASH) == hash_webhook_token(active.webhook_token)
    assert intake.webhook_token_hash("bigcommerce", "zzz999") is None
    assert intake.webhook_token_hash("bigcommerce", "nope00") is None
    assert intake.webhook_token_hash("shopify", STORE_HASH) is None  # right identifier, wrong platform


def test_unreachable_sqlite_raises_storage_unavailable_and_recovers(tmp_path: Path, sqlite_template: Path) -> None:
    folder = tmp_path / "not-yet"
    folder.write_text("")  # a file where the folder should be: the engine cannot make it
    engine = create_db_engine(f"sqlite:///{folder / 'db.sqlite'}")
    intake = EventIntake(engine)
    try:
        with pytest.raises(StorageUnavailable):
            intake.store(delivery())
        with pytest.raises(StorageUnavailable):
            intake.webhook_token_hash("shopify", SHOP_DOMAIN)

        folder.unlink()
        folder.mkdir()
        shutil.copyfile(sqlite_template, folder / "db.sqlite")
        stored = intake.store(delivery())
        assert not stored.duplicate
        assert intake.store(delivery()).duplicate
        assert intake.webhook_token_hash("shopify", SHOP_DOMAIN) is None
    finally:
        intake._discard_connection()
        engine.dispose()


@pytest.mark.postgres
def test_unreachable_postgres_raises_storage_unavailable() -> None:
    engine = create_db_engine("postgresql+psycopg://postgres@127.0.0.1:1/test", connect_args={"connect_timeout": 2})
    intake = EventIntake(engine)
    try:
        with pytest.raises(StorageUnavailable):
            intake.store(delivery())
        with pytest.raises(StorageUnavailable):
            intake.webhook_token_hash("shopify", SHOP_DOMAIN)
    finally:
        engine.dispose()


def test_a_broken_connection_raises_storage_unavailable_and_the_next_store_works(
    runtime: Runtime, intake: EventIntake
) -> None:
    first = intake.store(delivery())
    connection = intake._local.connection
    if runtime.engine.dialect.name == "postgresql":
        # The server ends our session, as a restart or failover would.
        with runtime.engine.connect() as admin:
            pid = connection.dbapi_connection.info.backend_pid
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
    else:
        connection.dbapi_connection.close()  # any use now raises sqlite3.ProgrammingError
    with pytest.raises(StorageUnavailable):
        intake.store(delivery(webhook_id="wh-2", dedupe_key="wh-2"))
    # The broken connection was dropped: the intake reconnects on the next delivery.
    retried = intake.store(delivery(webhook_id="wh-2", dedupe_key="wh-2"))
    assert not retried.duplicate
    assert [r.id for r in rows(runtime)] == [first.event_id, retried.event_id]

"""``flask events list`` and ``flask events replay``, through the app's CLI runner."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Order
from integration.events.models import EventStatus, WebhookEvent
from tests.helpers import SHOP_DOMAIN, add_shop, drain, fixture_bytes, invoke, post_shopify

SUMMARY_KEYS = {
    "id",
    "platform",
    "shop",
    "topic",
    "webhook_id",
    "status",
    "attempts",
    "duplicates",
    "received_at",
    "processed_at",
    "last_error",
}
OTHER_SHOP = "other-shop.myshopify.com"
ORDER_BODY = fixture_bytes("shopify/shopify_orders_create.json")


def test_events_commands_run_through_app_cli_without_a_pushed_context(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["events", "list", "--json"])
    assert result.exit_code == 0, repr(result.exception)
    assert json.loads(result.stdout) == []


def post(client: FlaskClient, webhook_id: str, *, shop: str = SHOP_DOMAIN, topic: str = "orders/create") -> None:
    response = post_shopify(client, ORDER_BODY, webhook_id=webhook_id, shop=shop, topic=topic)
    assert response.status_code == 200


def ids_of(runtime: Runtime) -> dict[str, int]:
    with runtime.session() as session:
        return {w: i for i, w in session.execute(sa.select(WebhookEvent.id, WebhookEvent.webhook_id))}


def set_row(runtime: Runtime, event_id: int, **values: Any) -> None:
    with runtime.session() as session:
        session.execute(sa.update(WebhookEvent).where(WebhookEvent.id == event_id).values(**values))


def row(runtime: Runtime, event_id: int) -> WebhookEvent:
    with runtime.session() as session:
        found = session.get(WebhookEvent, event_id)
        assert found is not None
        return found


def parse_iso_z(value: str) -> dt.datetime:
    assert value.endswith("Z")
    parsed = dt.datetime.fromisoformat(value.removesuffix("Z") + "+00:00")
    assert parsed.utcoffset() == dt.timedelta(0)
    return parsed


# --- list ------------------------------------------------------------------------------------------


def test_list_json_has_exactly_the_summary_keys_and_no_body(
    app: Flask, client: FlaskClient, app_runtime: Runtime
) -> None:
    post(client, "wh-1")
    post(client, "wh-1")  # a duplicate, counted
    post(client, "wh-2", topic="carts/create")  # born ignored
    ids = ids_of(app_runtime)
    result = invoke(app, "events", "list", "--json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)
    assert isinstance(events, list)
    assert [e["id"] for e in events] == [ids["wh-2"], ids["wh-1"]]  # newest first
    for e in events:
        assert set(e) == SUMMARY_KEYS
    ignored, received = events
    assert received == {
        "id": ids["wh-1"],
        "platform": "shopify",
        "shop": SHOP_DOMAIN,
        "topic": "orders/create",
        "webhook_id": "wh-1",
        "status": "received",
        "attempts": 0,
        "duplicates": 1,
        "received_at": received["received_at"],
        "processed_at": None,
        "last_error": None,
    }
    stored = row(app_runtime, ids["wh-1"])
    assert parse_iso_z(received["received_at"]) == stored.received_at
    assert ignored["status"] == "ignored"
    assert ignored["last_error"] == "topic 'carts/create' is not one we handle"
    assert parse_iso_z(ignored["processed_at"]) == row(app_runtime, ids["wh-2"]).processed_at
    # Bodies hold customer data: none of it is printed.
    assert "john@example.com" not in result.stdout
    assert "Shippington" not in result.stdout
    assert "body" not in result.stdout


def test_list_json_with_no_events(app: Flask) -> None:
    result = invoke(app, "events", "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_list_filters_by_status_shop_and_limit(app: Flask, client: FlaskClient, app_runtime: Runtime) -> None:
    for i in range(3):
        post(client, f"a-{i}")
    post(client, "b-0", shop=OTHER_SHOP)
    ids = ids_of(app_runtime)
    set_row(app_runtime, ids["a-1"], status=EventStatus.FAILED, last_error="boom")

    def listed(*args: str) -> list[int]:
        result = invoke(app, "events", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        return [e["id"] for e in json.loads(result.stdout)]

    assert listed() == [ids["b-0"], ids["a-2"], ids["a-1"], ids["a-0"]]
    assert listed("--status", "failed") == [ids["a-1"]]
    assert listed("--status", "received") == [ids["b-0"], ids["a-2"], ids["a-0"]]
    assert listed("--shop", OTHER_SHOP) == [ids["b-0"]]
    assert listed("--shop", " Demo-Shop.MyShopify.com ") == [ids["a-2"], ids["a-1"], ids["a-0"]]
    assert listed("--shop", SHOP_DOMAIN, "--status", "received") == [ids["a-2"], ids["a-0"]]
    assert listed("--limit", "2") == [ids["b-0"], ids["a-2"]]
    assert listed("--status", "done") == []


@pytest.mark.parametrize("args", [["--status", "nope"], ["--limit", "0"], ["--limit", "x"]])
def test_list_rejects_bad_options(app: Flask, args: list[str]) -> None:
    result = invoke(app, "events", "list", *args)
    assert result.exit_code == 2
    assert "Invalid value" in result.stderr


def test_list_human_output(app: Flask, client: FlaskClient, app_runtime: Runtime) -> None:
    result = invoke(app, "events", "list")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no events"

    post(client, "wh-1")
    post(client, "wh-2")
    ids = ids_of(app_runtime)
    set_row(app_runtime, ids["wh-1"], status=EventStatus.FAILED, attempts=3, last_error="KeyError: 'id'")
    result = invoke(app, "events", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "PLATFORM", "SHOP", "TOPIC", "STATUS", "TRIES", "DUPS", "RECEIVED"]
    newest = lines[1].split()
    assert newest[:7] == [str(ids["wh-2"]), "shopify", SHOP_DOMAIN, "orders/create", "received", "0", "0"]
    assert newest[7].endswith("Z")
    failed = lines[2].split()
    assert failed[:7] == [str(ids["wh-1"]), "shopify", SHOP_DOMAIN, "orders/create", "failed", "3", "0"]
    assert lines[3].strip() == "KeyError: 'id'"  # the error under its event
    assert len(lines) == 4
    assert "john@example.com" not in result.stdout


# --- replay ----------------------------------------------------------------------------------------


def test_replay_by_id_reprocesses_a_done_event_even_though_it_is_a_duplicate(
    app: Flask, client: FlaskClient, app_runtime: Runtime
) -> None:
    runtime = app_runtime
    add_shop(runtime)
    post(client, "wh-1")
    drain(runtime)
    event_id = ids_of(runtime)["wh-1"]
    assert (row(runtime, event_id).status, row(runtime, event_id).attempts) == (EventStatus.DONE, 1)

    # The platform redelivers: dedupe counts it and nothing runs again.
    post(client, "wh-1")
    drain(runtime)
    again = row(runtime, event_id)
    assert (again.status, again.attempts, again.duplicates) == (EventStatus.DONE, 1, 1)

    # Lose the applied data, then replay the stored event: it is processed again from its body.
    with runtime.session() as session:
        session.execute(sa.delete(Order))
    result = invoke(app, "events", "replay", str(event_id))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"replaying 1 event(s): {event_id}"
    replayed = row(runtime, event_id)
    assert (replayed.status, replayed.attempts, replayed.processed_at, replayed.last_error) == (
        EventStatus.RECEIVED,
        0,
        None,
        None,
    )
    assert replayed.queued_at is not None  # queued by the replay, not left for the relay

    drain(runtime)
    done = row(runtime, event_id)
    assert (done.status, done.attempts, done.duplicates) == (EventStatus.DONE, 1, 1)
    with runtime.session() as session:
        assert session.scalars(sa.select(Order.platform_order_id)).one() == "820982911946154500"


def test_replay_by_filters_picks_only_matching_events(app: Flask, client: FlaskClient, app_runtime: Runtime) -> None:
    for name in ("match", "too-old", "other-status"):
        post(client, name)
    post(client, "other-shop", shop=OTHER_SHOP)
    ids = ids_of(app_runtime)
    since = utcnow() - dt.timedelta(hours=1)
    for name in ("match", "too-old", "other-shop"):
        set_row(
            app_runtime,
            ids[name],
            status=EventStatus.FAILED,
            last_error="boom",
            attempts=6,
            processed_at=utcnow(),
        )
    set_row(app_runtime, ids["too-old"], received_at=since - dt.timedelta(seconds=1))
    set_row(app_runtime, ids["other-status"], status=EventStatus.DONE, processed_at=utcnow())

    result = invoke(
        app,
        "events",
        "replay",
        "--status",
        "failed",
        "--shop",
        SHOP_DOMAIN,
        "--since",
        since.isoformat().replace("+00:00", "Z"),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"replaying 1 event(s): {ids['match']}"
    assert row(app_runtime, ids["match"]).status == EventStatus.RECEIVED
    assert row(app_runtime, ids["match"]).attempts == 0
    assert row(app_runtime, ids["too-old"]).status == EventStatus.FAILED
    assert row(app_runtime, ids["other-shop"]).status == EventStatus.FAILED
    assert row(app_runtime, ids["other-status"]).status == EventStatus.DONE
    assert app_runtime.queue("events").get_job_ids() == [f"event-{ids['match']}"]


def test_replay_since_without_offset_means_utc(app: Flask, client: FlaskClient, app_runtime: Runtime) -> None:
    post(client, "a")
    post(client, "b")
    ids = ids_of(app_runtime)
    since = utcnow() - dt.timedelta(hours=1)
    for name in ids:
        set_row(app_runtime, ids[name], status=EventStatus.FAILED)
    set_row(app_runtime, ids["a"], received_at=since - dt.timedelta(minutes=1))
    naive = since.replace(tzinfo=None).isoformat()
    result = invoke(app, "events", "replay", "--status", "failed", "--since", naive)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"replaying 1 event(s): {ids['b']}"


def test_replay_with_nothing_matching(app: Flask) -> None:
    result = invoke(app, "events", "replay", "--status", "failed")
    assert result.exit_code == 0
    assert result.stdout.strip() == "nothing to replay"


def test_replay_unknown_id_fails_with_a_message(app: Flask) -> None:
    result = invoke(app, "events", "replay", "999")
    assert result.exit_code == 1
    assert "no such event: 999" in result.stderr
    assert "no such event" not in result.stdout


def test_replay_known_and_unknown_ids_replays_the_known_and_fails(
    app: Flask, client: FlaskClient, app_runtime: Runtime
) -> None:
    post(client, "wh-1")
    event_id = ids_of(app_runtime)["wh-1"]
    set_row(app_runtime, event_id, status=EventStatus.DONE)
    result = invoke(app, "events", "replay", str(event_id), "998", "999")
    assert result.exit_code == 1
    assert "no such event: 998, 999" in result.stderr
    assert f"replaying 1 event(s): {event_id}" in result.stdout
    assert row(app_runtime, event_id).status == EventStatus.RECEIVED


def test_replay_without_arguments_is_a_usage_error(app: Flask) -> None:
    result = invoke(app, "events", "replay")
    assert result.exit_code == 2
    assert "give event IDs, or --status" in result.stderr


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01", "01/02/2026"])
def test_replay_with_a_bad_since_is_an_error(app: Flask, since: str) -> None:
    result = invoke(app, "events", "replay", "--status", "failed", "--since", since)
    assert result.exit_code == 2
    assert "--since" in result.stderr
    assert "not an ISO 8601 date or time" in result.stderr


def test_relay_and_sweep_commands(app: Flask, client: FlaskClient, app_runtime: Runtime) -> None:
    post(client, "wh-1")
    post(client, "wh-2")
    result = invoke(app, "events", "relay")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "queued 2 event(s)"
    result = invoke(app, "events", "sweep")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "re-queued 0 event(s); 0 still waiting in Redis"

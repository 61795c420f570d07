"""A small world for the reps pages' tests: shops, reps, customers with orders and deliveries, and calls
to make; and signing a rep in through the emailed link, as a person would."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from flask.testing import FlaskClient

from integration.core.db import utcnow
from integration.core.runtime import Runtime
from integration.customers.models import Customer, Fulfillment, Order, OrderLine, TimelineEntry
from integration.messaging.models import OutboxMessage
from integration.reps.models import CheckIn, CheckInOrder, Rep
from integration.reps.roster import RepInput, add_rep

CSRF_INPUT = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
LINK = re.compile(r"https?://\S+/workspace/sign-in/(\S+)")


def csrf_from(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def new_rep(runtime: Runtime, shop_id: int, email: str, name: str, zone: str = "Europe/London", **kw: object) -> int:
    with runtime.session() as db:
        return add_rep(db, shop_id, RepInput(name=name, email=email, time_zone=zone, **kw)).id  # type: ignore[arg-type]


@dataclass
class Bought:
    title: str
    quantity: int = 1
    product_id: str | None = None


def new_customer(
    runtime: Runtime,
    shop_id: int,
    first: str,
    last: str,
    *,
    rep_id: int | None,
    email: str | None = None,
    city: str = "Leeds",
    country: str = "GB",
    zone: str = "Europe/London",
    segment: str = "new",
    orders: int = 1,
) -> int:
    with runtime.session() as db:
        customer = Customer(
            shop_id=shop_id,
            first_name=first,
            last_name=last,
            email=email or f"{first.lower()}.{last.lower()}@example.com",
            phone="+44 113 496 0000",
            city=city,
            country_code=country,
            time_zone=zone,
            time_zone_source="address",
            segment=segment,
            orders_count=orders,
            total_spent=Decimal("120.00"),
            currency="GBP",
            rep_id=rep_id,
            email_consent="subscribed",
            source_updated_at=utcnow(),
        )
        db.add(customer)
        db.flush()
        if rep_id is not None:
            db.execute(sa.update(Rep).where(Rep.id == rep_id).values(book_size=Rep.book_size + 1))
        return customer.id


_order_numbers = iter(range(1001, 10**6))


def new_order(
    runtime: Runtime,
    shop_id: int,
    customer_id: int,
    items: list[Bought],
    *,
    delivered_at: dt.datetime | None = None,
    name: str | None = None,
) -> int:
    number = next(_order_numbers)
    now = utcnow()
    with runtime.session() as db:
        order = Order(
            shop_id=shop_id,
            platform_order_id=f"{shop_id}-{number}",
            customer_id=customer_id,
            name=name or f"#{number}",
            currency="GBP",
            total_price=Decimal("60.00"),
            status="fulfilled",
            placed_at=now - dt.timedelta(days=8),
            source_updated_at=now,
        )
        order.lines = [
            OrderLine(title=b.title, quantity=b.quantity, product_id=b.product_id, price=Decimal("30.00"))
            for b in items
        ]
        db.add(order)
        db.flush()
        if delivered_at is not None:
            db.add(
                Fulfillment(
                    shop_id=shop_id,
                    platform_fulfillment_id=f"f-{number}",
                    platform_order_id=order.platform_order_id,
                    status="delivered",
                    shipped_at=delivered_at - dt.timedelta(days=3),
                    delivered_at=delivered_at,
                    source_updated_at=now,
                    status_updated_at=now,
                )
            )
        db.add(
            TimelineEntry(
                customer_id=customer_id,
                at=order.placed_at,
                kind="order",
                ref=f"order-{number}",
                summary=f"Order {order.name}",
            )
        )
        return order.id


def new_checkin(
    runtime: Runtime,
    shop_id: int,
    customer_id: int,
    rep_id: int | None,
    order_ids: list[int],
    *,
    due_at: dt.datetime | None = None,
    status: str = "due",
    kind: str = "post_purchase",
    note: str | None = None,
) -> int:
    with runtime.session() as db:
        checkin = CheckIn(
            shop_id=shop_id,
            customer_id=customer_id,
            rep_id=rep_id,
            kind=kind,
            status=status,
            due_at=due_at or utcnow() - dt.timedelta(hours=1),
            delivered_at=utcnow() - dt.timedelta(days=2),
            note=note,
        )
        db.add(checkin)
        db.flush()
        db.add_all(CheckInOrder(checkin_id=checkin.id, order_id=o) for o in order_ids)
        return checkin.id


@dataclass
class ShopWorld:
    shop_id: int
    reps: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    checkins: dict[str, int] = field(default_factory=dict)


def populate(runtime: Runtime, shop_id: int, prefix: str = "") -> ShopWorld:
    """Two reps; each with customers, orders delivered two days ago and a call due."""
    world = ShopWorld(shop_id)
    world.reps["rita"] = new_rep(runtime, shop_id, f"{prefix}rita@example.com", "Rita Rep")
    world.reps["rob"] = new_rep(runtime, shop_id, f"{prefix}rob@example.com", "Rob Rep", "America/New_York")
    delivered = utcnow() - dt.timedelta(days=2)
    people = (
        ("ada", "Ada", "Lovelace", "rita", "London", "GB", "Europe/London", "vip"),
        ("kim", "Kim", "Tokyo", "rita", "Tokyo", "JP", "Asia/Tokyo", "new"),
        ("lou", "Lou", "Angeles", "rita", "Los Angeles", "US", "America/Los_Angeles", "returning"),
        ("bob", "Bob", "Brooklyn", "rob", "New York", "US", "America/New_York", "new"),
    )
    for key, first, last, rep, city, country, zone, segment in people:
        cid = new_customer(
            runtime,
            shop_id,
            f"{prefix}{first}",
            last,
            rep_id=world.reps[rep],
            city=city,
            country=country,
            zone=zone,
            segment=segment,
        )
        world.customers[key] = cid
        world.orders[key] = new_order(
            runtime,
            shop_id,
            cid,
            [Bought("Linen shirt", 1, f"{prefix}p-shirt"), Bought("Wool scarf", 2, f"{prefix}p-scarf")],
            delivered_at=delivered,
        )
        world.checkins[key] = new_checkin(runtime, shop_id, cid, world.reps[rep], [world.orders[key]])
    return world


def outbox_link(runtime: Runtime, recipient: str) -> str:
    """The path of the latest sign-in link sent to ``recipient``."""
    with runtime.session() as db:
        body = db.scalar(
            sa.select(OutboxMessage.text_body)
            .where(OutboxMessage.recipient == recipient, OutboxMessage.template == "signin_link")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    assert body is not None, f"no sign-in link for {recipient}"
    found = LINK.search(body)
    assert found
    return f"/workspace/sign-in/{found.group(1)}"


def ask_for_link(client: FlaskClient, email: str) -> int:
    form = client.get("/workspace/sign-in")
    response = client.post(
        "/workspace/sign-in", data={"email": email, "csrf_token": csrf_from(form.get_data(as_text=True))}
    )
    return response.status_code


def sign_in_rep(client: FlaskClient, runtime: Runtime, email: str) -> None:
    assert ask_for_link(client, email) == 200
    link = outbox_link(runtime, email)
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    done = client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert done.status_code == 303, done.get_data(as_text=True)
    assert done.headers["Location"].endswith("/workspace")

"""A shop to run check-ins in: reps, customers placing orders, parcels shipped and delivered, all applied as
processing applies them (``apply_change`` then the reactions, in one transaction), with a clock the test
chooses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.events.changes import (
    Address,
    Change,
    ConsentChange,
    ConsentChannel,
    CustomerChange,
    DeliveryProgress,
    DiscountCodeUse,
    FulfillmentChange,
    FulfillmentStatus,
    OrderChange,
    OrderLineData,
    OrderStatus,
)
from integration.reps.models import CheckIn, CheckInOrder, CheckInSettings
from integration.reps.roster import RepInput, add_rep
from tests.helpers import add_shop, apply_changes

# An address per zone, so a customer's zone comes from enrichment as in production.
ADDRESSES = {
    "Europe/London": Address(city="London", country_code="GB"),
    "America/New_York": Address(city="Albany", region_code="NY", country_code="US"),
    "America/Los_Angeles": Address(city="Oakland", region_code="CA", country_code="US"),
    "Australia/Sydney": Address(city="Sydney", region_code="NSW", country_code="AU"),
}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


@dataclass
class World:
    runtime: Runtime
    shop_id: int

    def rep(self, email: str, zone: str = "Europe/London", hours: str = "Mon-Fri 09:00-17:00") -> int:
        with self.runtime.session() as session:
            name = email.split("@")[0].title()
            return add_rep(session, self.shop_id, RepInput(name=name, email=email, time_zone=zone, hours=hours)).id

    def settings(self, **values: object) -> None:
        with self.runtime.session() as session:
            session.merge(CheckInSettings(shop_id=self.shop_id, **values))

    def apply(self, *changes: Change, now: dt.datetime | None = None) -> None:
        apply_changes(self.runtime, self.shop_id, *changes, now=now)

    def order(
        self,
        number: int,
        *,
        email: str = "ann@example.com",
        zone: str = "Europe/London",
        status: OrderStatus = OrderStatus.PAID,
        test: bool = False,
        at: dt.datetime | None = None,
        now: dt.datetime | None = None,
        paid_at: dt.datetime | str | None = "placed",
        codes: tuple[str, ...] = (),
        total: str = "40.00",
    ) -> str:
        """Customer ``email`` (living in ``zone``) places order ``#number`` (or it changes, when known),
        with the discount ``codes`` they typed; returns its platform id. ``paid_at``: by default paid as
        placed unless pending or cancelled."""
        at = at or utc(2027, 3, 1, 9)
        if paid_at == "placed":
            paid_at = None if status in (OrderStatus.PENDING, OrderStatus.CANCELLED) else utc(2027, 1, 1)
        customer = CustomerChange(
            platform_id=f"cust-{email}",
            updated_at=utc(2027, 1, 1),
            email=email,
            first_name=email.split("@")[0].title(),
            last_name="Example",
            address=ADDRESSES[zone],
        )
        self.apply(
            OrderChange(
                platform_id=str(number),
                updated_at=at,
                status=status,
                name=f"#{number}",
                email=email,
                currency="EUR",
                total_price=Decimal(total),
                placed_at=utc(2027, 1, 1),
                paid_at=paid_at if isinstance(paid_at, dt.datetime) else None,
                cancelled_at=at if status is OrderStatus.CANCELLED else None,
                customer=customer,
                shipping_address=ADDRESSES[zone],
                lines=(OrderLineData(title="Teapot", quantity=1, price=Decimal("40.00"), product_id="p1"),),
                discount_codes=tuple(DiscountCodeUse(code, Decimal("6.00"), "percentage") for code in codes),
                test=test,
            ),
            now=now,
        )
        return str(number)

    def ship(self, number: int, at: dt.datetime, now: dt.datetime | None = None) -> None:
        self.apply(
            FulfillmentChange(
                platform_id=f"f-{number}",
                order_platform_id=str(number),
                updated_at=at,
                status=FulfillmentStatus.SHIPPED,
                shipped_at=at,
            ),
            now=now,
        )

    def deliver(self, number: int, at: dt.datetime, now: dt.datetime | None = None) -> None:
        self.apply(
            DeliveryProgress(
                fulfillment_platform_id=f"f-{number}",
                order_platform_id=str(number),
                happened_at=at,
                status=FulfillmentStatus.DELIVERED,
            ),
            now=now,
        )

    def no_calls(self, email: str, at: dt.datetime, state: str = "unsubscribed") -> None:
        self.apply(ConsentChange(f"cust-{email}", ConsentChannel.CALLS, state, at, email=email))

    def checkins(self) -> list[CheckIn]:
        with self.runtime.session() as session:
            return list(session.scalars(sa.select(CheckIn).order_by(CheckIn.id)))

    def only_checkin(self) -> CheckIn:
        (checkin,) = self.checkins()
        return checkin

    def orders_of(self, checkin_id: int) -> list[int]:
        with self.runtime.session() as session:
            return sorted(
                session.scalars(sa.select(CheckInOrder.order_id).where(CheckInOrder.checkin_id == checkin_id))
            )

    def customer(self, email: str = "ann@example.com") -> Customer:
        with self.runtime.session() as session:
            return session.scalars(sa.select(Customer).where(Customer.email == email)).one()


@pytest.fixture
def world(runtime: Runtime) -> Iterator[World]:
    yield World(runtime, add_shop(runtime).id)

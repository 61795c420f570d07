"""The demo's shops, customers and orders, made deterministically (Faker with a fixed seed)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faker import Faker

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
SEED = 20261203
# Places across time zones: (Faker locale, country code, country name).
LOCALES = (
    ("en_US", "US", "United States"),
    ("en_GB", "GB", "United Kingdom"),
    ("de_DE", "DE", "Germany"),
    ("fr_FR", "FR", "France"),
    ("ja_JP", "JP", "Japan"),
    ("en_AU", "AU", "Australia"),
    ("pt_BR", "BR", "Brazil"),
    ("en_CA", "CA", "Canada"),
)
# The month before the day the demo runs (same names and amounts every run; the dates move with the
# calendar): a fixed date drifted into the past, until no order was recent enough for a thank-you (one
# paid more than 7 days before we learn of it gets none). Orders fall in START + 0..28 days and are
# delivered 3 days later, so everything has happened by the time the demo sends it.
START = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(9), tzinfo=dt.UTC) - dt.timedelta(days=32)


def fixture(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


@dataclass
class Person:
    n: int
    first: str
    last: str
    email: str
    phone: str
    street: str
    city: str
    region: str
    postcode: str
    country: str
    country_name: str
    orders: list[dict[str, Any]] = field(default_factory=list)


def people(count: int, offset: int = 0) -> list[Person]:
    """``count`` customers, the same on every run (one Faker per locale, all seeded)."""
    fakers = {loc: Faker(loc) for loc, _, _ in LOCALES}
    for i, (loc, _, _) in enumerate(LOCALES):
        fakers[loc].seed_instance(SEED + offset + i)
    rng = random.Random(SEED + offset)  # noqa: S311 - repeatable demo data, not a secret
    found = []
    for n in range(count):
        loc, country, country_name = LOCALES[n % len(LOCALES)]
        fake = fakers[loc]
        first, last = fake.first_name(), fake.last_name()
        region = fake.state() if hasattr(fake, "state") else fake.city()
        person = Person(
            n=n,
            first=first,
            last=last,
            email=f"{first}.{last}.{n}@example.com".lower().replace(" ", ""),
            phone=fake.phone_number(),
            street=fake.street_address(),
            city=fake.city(),
            region=region,
            postcode=fake.postcode(),
            country=country,
            country_name=country_name,
        )
        for k in range(rng.choice((1, 1, 1, 2, 3))):
            placed = START + dt.timedelta(days=rng.randrange(0, 28), minutes=rng.randrange(0, 1440) + k)
            if n == 0 and k == 0:
                # The first customer (in the US, where no prior consent is needed) ordered five days ago:
                # the demo always has a thank-you, and so a preference-centre link, to show.
                placed = START + dt.timedelta(days=27, minutes=rng.randrange(0, 1440))
            total = f"{rng.randrange(1500, 40000) / 100:.2f}"
            person.orders.append({"k": k, "placed": placed, "total": total})
        found.append(person)
    return found


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------------------------------- Shopify


def shopify_customer(p: Person) -> dict[str, Any]:
    body: dict[str, Any] = fixture("shopify/shopify_customers_create.json")
    address = {
        "first_name": p.first,
        "last_name": p.last,
        "address1": p.street,
        "city": p.city,
        "province": p.region,
        "zip": p.postcode,
        "country": p.country_name,
        "country_code": p.country,
        "phone": p.phone,
        "name": f"{p.first} {p.last}",
    }
    body.update(
        id=9_000_000 + p.n,
        email=p.email,
        first_name=p.first,
        last_name=p.last,
        phone=None,
        created_at=iso(START),
        updated_at=iso(START),
        default_address={**body.get("default_address", {}), **address},
        admin_graphql_api_id=f"gid://shopify/Customer/{9_000_000 + p.n}",
    )
    body["addresses"] = [body["default_address"]]
    return body


def shopify_order(p: Person, order: dict[str, Any], updated: dt.datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(fixture("shopify/shopify_orders_create.json"))
    order_id = 7_000_000 + p.n * 10 + order["k"]
    address = {
        "first_name": p.first,
        "last_name": p.last,
        "address1": p.street,
        "address2": None,
        "city": p.city,
        "province": p.region,
        "zip": p.postcode,
        "country": p.country_name,
        "country_code": p.country,
        "phone": p.phone,
        "name": f"{p.first} {p.last}",
        "company": None,
    }
    customer = shopify_customer(p)
    body.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        name=f"#D{order_id}",
        order_number=order_id,
        email=p.email,
        contact_email=p.email,
        phone=None,
        created_at=iso(order["placed"]),
        processed_at=iso(order["placed"]),
        updated_at=iso(updated or order["placed"]),
        cancelled_at=None,
        cancel_reason=None,
        financial_status="paid",
        # Shopify's sample is a test order, and test orders get no rep, no check-in and no thank-you: the
        # demo's Shopify shop showed none of them.
        test=False,
        total_price=order["total"],
        current_total_price=order["total"],
        subtotal_price=order["total"],
        billing_address=address,
        shipping_address=address,
        customer=customer,
    )
    return body


def shopify_delivery(p: Person, order: dict[str, Any]) -> dict[str, Any]:
    order_id = 7_000_000 + p.n * 10 + order["k"]
    delivered = order["placed"] + dt.timedelta(days=3)
    body: dict[str, Any] = fixture("shopify/shopify_fulfillment_events_create.json")
    body.update(
        id=5_000_000 + p.n * 10 + order["k"],
        fulfillment_id=6_000_000 + p.n * 10 + order["k"],
        order_id=order_id,
        status="delivered",
        message="Delivered",
        happened_at=iso(delivered),
        created_at=iso(delivered),
        updated_at=iso(delivered),
        country=p.country,
        admin_graphql_api_id=f"gid://shopify/FulfillmentEvent/{p.n}",
    )
    return body


# ------------------------------------------------------------------------------------- BigCommerce


def bc_customer(p: Person) -> dict[str, Any]:
    body: dict[str, Any] = fixture("bigcommerce/bigcommerce_customer_v3.json")
    body.update(
        id=100 + p.n,
        email=p.email,
        first_name=p.first,
        last_name=p.last,
        phone=p.phone,
        date_created=iso(START),
        date_modified=iso(START),
    )
    body["addresses"] = [
        {
            "id": 100 + p.n,
            "customer_id": 100 + p.n,
            "first_name": p.first,
            "last_name": p.last,
            "address1": p.street,
            "city": p.city,
            "state_or_province": p.region,
            "postal_code": p.postcode,
            "country_code": p.country,
            "country": p.country_name,
            "phone": p.phone,
            "address_type": "residential",
        }
    ]
    return body


def rfc2822(moment: dt.datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


def bc_order(p: Person, order: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    body: dict[str, Any] = fixture("bigcommerce/bigcommerce_order_v2.json")
    address = {
        "first_name": p.first,
        "last_name": p.last,
        "company": "",
        "street_1": p.street,
        "street_2": "",
        "city": p.city,
        "state": p.region,
        "zip": p.postcode,
        "country": p.country_name,
        "country_iso2": p.country,
        "phone": p.phone,
        "email": p.email,
        "form_fields": [],
    }
    order_id = 5000 + p.n * 10 + order["k"]
    body.update(
        id=order_id,
        customer_id=100 + p.n,
        date_created=rfc2822(order["placed"]),
        date_modified=rfc2822(order["placed"]),
        status_id=11,
        status="Awaiting Fulfillment",
        custom_status="Awaiting Fulfillment",
        payment_status="captured",
        total_inc_tax=order["total"],
        total_ex_tax=order["total"],
        subtotal_inc_tax=order["total"],
        billing_address=address,
    )
    products = fixture("bigcommerce/bigcommerce_order_v2_products.json")
    shipping = [
        {**a, **{k: v for k, v in address.items() if k in a}}
        for a in fixture("bigcommerce/bigcommerce_order_v2_shipping_addresses.json")
    ]
    return body, products, shipping


def bc_hook(scope: str, resource_id: int, store_hash: str, n: int) -> dict[str, Any]:
    return {
        "scope": scope,
        "store_id": "1025646",
        "data": {"type": scope.split("/")[1], "id": resource_id},
        "hash": f"demo{n:06d}{resource_id:010d}{scope.replace('/', '')}"[:40],
        "created_at": int(START.timestamp()) + n,
        "producer": f"stores/{store_hash}",
    }

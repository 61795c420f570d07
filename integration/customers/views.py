"""Reading profiles: what ``customers show|list`` print and the rep workspace's JSON will carry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.customers.models import Customer, CustomerProduct, Order, OrderLine, Product, TimelineEntry
from integration.customers.profiles import segment_expression
from integration.messaging.ledger import preferences
from integration.shops.models import Shop

TIMELINE_LIMIT = 200
ORDERS_LIMIT = 100
BOUGHT_MOST_LIMIT = 5


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def find_shop(session: Session, shop: str) -> Shop | None:
    """A shop by its Shopify domain or BigCommerce store hash."""
    return session.scalar(sa.select(Shop).where(Shop.identifier == shop.strip().lower()))


def find_customer(session: Session, shop: Shop, email_or_id: str) -> Customer | None:
    """By email, our profile id, or the platform's customer id."""
    value = email_or_id.strip()
    if "@" in value:
        condition = Customer.email == value.lower()
    elif value.isdigit():
        condition = sa.or_(Customer.platform_customer_id == value, Customer.id == int(value))
    else:
        return None
    return session.scalar(
        sa.select(Customer)
        .where(Customer.shop_id == shop.id, condition)
        # A platform id match wins over our own id if both happen to exist.
        .order_by((Customer.platform_customer_id == value).desc(), Customer.id)
        .limit(1)
    )


def current_segment(customer: Customer, now: dt.datetime | None = None) -> str:
    """The stored segment, or ``lapsed`` when no order came in twice the customer's usual interval."""
    # The stored segment is refreshed hourly; lapsing in between is read off the lapse time.
    if customer.orders_count > 0 and customer.lapses_at is not None and customer.lapses_at <= (now or utcnow()):
        return "lapsed"
    return customer.segment


def profile(session: Session, customer: Customer) -> dict[str, Any]:
    """The whole profile with orders (newest first) and timeline (newest first)."""
    orders = list(
        session.scalars(
            sa.select(Order)
            .where(Order.customer_id == customer.id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(ORDERS_LIMIT)
        )
    )
    lines: dict[int, list[OrderLine]] = {}
    if orders:
        for line in session.scalars(sa.select(OrderLine).where(OrderLine.order_id.in_([o.id for o in orders]))):
            lines.setdefault(line.order_id, []).append(line)
    timeline = session.scalars(
        sa.select(TimelineEntry)
        .where(TimelineEntry.customer_id == customer.id)
        .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    return {
        **summary(customer),
        **rep_and_next_checkin(session, customer),
        # What the customer chose in the preference centre, as the consent ledger derives it.
        "preferences": preferences(session, customer.id),
        "orders": [
            {
                "id": o.platform_order_id,
                "name": o.name,
                "placed_at": _iso(o.placed_at),
                "status": o.status,
                "total_price": str(o.total_price) if o.total_price is not None else None,
                "currency": o.currency,
                "lines": [
                    {
                        "title": line.title,
                        "quantity": line.quantity,
                        "price": str(line.price) if line.price is not None else None,
                        "product_id": line.product_id,
                        "variant_id": line.variant_id,
                        "sku": line.sku,
                    }
                    for line in lines.get(o.id, [])
                ],
            }
            for o in orders
        ],
        "timeline": [{"at": _iso(t.at), "kind": t.kind, "summary": t.summary} for t in timeline],
        "products": [{"title": title, "quantity": qty} for title, qty in top_products(session, customer)],
        "product_types": [
            {"product_type": product_type, "quantity": qty}
            for product_type, qty in top_product_types(session, customer)
        ],
    }


def rep_and_next_checkin(session: Session, customer: Customer) -> dict[str, Any]:
    """The customer's dedicated rep (name, email) and their next open check-in, if any."""
    from integration.reps.models import OPEN_CHECKIN, CheckIn, Rep

    found = None
    if customer.rep_id is not None:
        found = session.execute(sa.select(Rep.name, Rep.email).where(Rep.id == customer.rep_id)).one_or_none()
    checkin = session.execute(
        sa.select(CheckIn.id, CheckIn.due_at, CheckIn.status)
        .where(CheckIn.customer_id == customer.id, CheckIn.status.in_(OPEN_CHECKIN))
        .order_by(CheckIn.due_at)
        .limit(1)
    ).one_or_none()
    return {
        "rep": {"name": found.name, "email": found.email} if found else None,
        "next_checkin": (
            {"id": checkin.id, "due_at": _iso(checkin.due_at), "status": checkin.status} if checkin else None
        ),
    }


def summary(customer: Customer) -> dict[str, Any]:
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part) or None
    return {
        "id": customer.id,
        "platform_ids": [customer.platform_customer_id] if customer.platform_customer_id else [],
        "name": name,
        "email": customer.email,
        "phone": customer.phone,
        "locale": customer.locale,
        "city": customer.city,
        "region": customer.region,
        "country": customer.country_code,
        "time_zone": customer.time_zone,
        "time_zone_source": customer.time_zone_source,
        "orders_count": customer.orders_count,
        "total_spent": str(customer.total_spent),
        "currency": customer.currency,
        "first_order_at": _iso(customer.first_order_at),
        "last_order_at": _iso(customer.last_order_at),
        "segment": current_segment(customer),
        # Per channel, as derived from the consent ledger (kept on the customer's row by every append).
        "consent": {"email": customer.email_consent, "sms": customer.sms_consent, "calls": customer.call_consent},
        "preferences": None,  # filled by profile()
        "rep": None,  # filled by rep_and_next_checkin where the rep is read (profile, API)
        "next_checkin": None,
        "orders": [],
        "timeline": [],
        "products": [],
        "product_types": [],
    }


def top_products(session: Session, customer: Customer, limit: int = BOUGHT_MOST_LIMIT) -> list[tuple[str, int]]:
    rows = session.execute(
        sa.select(CustomerProduct.title, CustomerProduct.quantity)
        .where(CustomerProduct.customer_id == customer.id, CustomerProduct.quantity > 0)
        .order_by(CustomerProduct.quantity.desc(), CustomerProduct.title)
        .limit(limit)
    )
    return [(title, quantity) for title, quantity in rows]


def top_product_types(session: Session, customer: Customer, limit: int = BOUGHT_MOST_LIMIT) -> list[tuple[str, int]]:
    """(type, quantity) most bought first: the customer's products summed per catalogue type.

    One query: customer_products by its (customer_id, product_key) key, each joined to its products
    row by the (shop_id, platform_product_id) key. Products not fetched yet, without a type or bought
    without a product id (keyed by title) have no typed row and are left out. On BigCommerce the type
    is the product's first category (see integration.sync.catalogue).
    """
    bought = sa.func.sum(CustomerProduct.quantity)
    rows = session.execute(
        sa.select(Product.product_type, bought)
        .select_from(CustomerProduct)
        .join(
            Product,
            sa.and_(
                Product.shop_id == customer.shop_id,
                Product.platform_product_id == CustomerProduct.product_key,
            ),
        )
        .where(
            CustomerProduct.customer_id == customer.id,
            CustomerProduct.quantity > 0,
            Product.product_type.is_not(None),
        )
        .group_by(Product.product_type)
        .order_by(bought.desc(), Product.product_type)
        .limit(limit)
    )
    return [(product_type, int(quantity)) for product_type, quantity in rows if product_type]


def list_customers(session: Session, shop: Shop, segment: str | None = None, limit: int = 1000) -> list[Customer]:
    query = sa.select(Customer).where(Customer.shop_id == shop.id).order_by(Customer.id)
    if segment:
        # The segment as of now, not as last stored: someone may have lapsed since the hourly refresh.
        query = query.where(segment_expression() == segment)
    return list(session.scalars(query.limit(limit)))

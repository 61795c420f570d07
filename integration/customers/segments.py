"""The periodic segments job: each shop's VIP threshold (top 10 % by spend) and every profile's segment.

Ranking a whole shop is a batch job's work, never an event's: events compare a profile with the
threshold this job last stored (or the merchant's own figure).
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.customers.profiles import segment_expression
from integration.shops.models import Shop

VIP_SHARE = Decimal("0.10")


def vip_threshold(session: Session, shop_id: int) -> Decimal | None:
    """The spend of the last customer inside the top 10 % of buyers (None when nobody has bought)."""
    buyers = session.scalar(sa.select(sa.func.count()).where(Customer.shop_id == shop_id, Customer.orders_count > 0))
    if not buyers:
        return None
    rank = max(int(buyers * VIP_SHARE), 1) - 1  # at least the single best customer
    value = session.scalar(
        sa.select(Customer.total_spent)
        .where(Customer.shop_id == shop_id, Customer.orders_count > 0)
        .order_by(Customer.total_spent.desc())
        .offset(rank)
        .limit(1)
    )
    return Decimal(value) if value is not None else None


def refresh_shop_segments(session: Session, shop_id: int) -> None:
    session.execute(sa.update(Shop).where(Shop.id == shop_id).values(vip_threshold=vip_threshold(session, shop_id)))
    session.execute(sa.update(Customer).where(Customer.shop_id == shop_id).values(segment=segment_expression()))


def refresh_all_segments(runtime: Runtime) -> int:
    """Every shop's segments, one shop per transaction (short locks); returns shops refreshed."""
    with runtime.session() as session:
        shop_ids = list(session.scalars(sa.select(Shop.id)))
    for shop_id in shop_ids:
        with runtime.session() as session:
            refresh_shop_segments(session, shop_id)
    return len(shop_ids)

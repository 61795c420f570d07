"""A shop's facts from its platform, kept on the shop, and the time zone in effect.

Two sources give a shop its zone: the platform (``platform_time_zone``, read at install and at every
subscription check) and the merchant (``time_zone_override``, the settings page). The one in effect,
``time_zone``, is the override when there is one, else the platform's. Whenever the zone in effect
changes, every customer whose zone came from the shop (``time_zone_source = 'shop'``: their own
address gave none) is moved to the new one in the same transaction; zones derived from an address are
never touched.

A fact the platform did not give (None) leaves what we hold. The owner's email is never logged.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.db import utcnow
from integration.customers.models import Customer
from integration.platforms.interfaces import ShopFacts
from integration.shops.models import Shop

log = logging.getLogger(__name__)

SHOP_SOURCE = "shop"  # Customer.time_zone_source of a zone that is the shop's


def effective_time_zone(shop: Shop) -> str | None:
    return shop.time_zone_override or shop.platform_time_zone


def _settle_time_zone(session: Session, shop: Shop) -> int:
    """Put the zone in effect on the shop and on the customers who use the shop's; returns how many
    customers moved (0 when the zone in effect did not change)."""
    zone = effective_time_zone(shop)
    if zone == shop.time_zone:
        return 0
    shop.time_zone = zone
    session.flush()
    result = session.execute(
        sa.update(Customer)
        .where(Customer.shop_id == shop.id, Customer.time_zone_source == SHOP_SOURCE)
        .values(time_zone=zone, updated_at=utcnow())
    )
    moved = int(result.rowcount or 0)  # type: ignore[attr-defined]
    log.info("shop %s: time zone now %s; %s customer(s) using the shop's zone moved", shop.id, zone, moved)
    return moved


def apply_facts(session: Session, shop: Shop, facts: ShopFacts) -> int:
    """Keep what the platform said about the shop; returns how many customers' zones moved."""
    if facts.name is not None:
        shop.name = facts.name
    if facts.currency is not None:
        shop.currency = facts.currency
    if facts.owner_email is not None:
        shop.owner_email = facts.owner_email
    if facts.primary_domain is not None:
        shop.primary_domain = facts.primary_domain
    if facts.time_zone is not None:
        shop.platform_time_zone = facts.time_zone
    shop.facts_read_at = utcnow()
    return _settle_time_zone(session, shop)


def set_time_zone_override(session: Session, shop: Shop, zone: str | None) -> int:
    """The merchant's own zone for the shop (None: use the platform's); returns customers moved."""
    shop.time_zone_override = zone or None
    return _settle_time_zone(session, shop)


def record_facts(session: Session, shop_id: int, facts: ShopFacts) -> int:
    """:func:`apply_facts` for the shop with this id, if it exists."""
    shop = session.get(Shop, shop_id)
    if shop is None:
        return 0
    return apply_facts(session, shop, facts)


__all__ = ["apply_facts", "effective_time_zone", "record_facts", "set_time_zone_override"]

"""A fresh preference-centre link by email, for the customer whose link expired.

An expired link is still genuinely ours (its signature checks; only its age is past), so it names its
customer and shop: the page offers one button, and pressing it queues a *transactional* email (the
customer asked for it; it is not marketing) to the address on file, from their rep as the shop's other
emails are, with a new link. Nothing is sent for a revoked link (revoking is deliberate), a deleted
customer, a shop that is gone, or a suppressed address (``contactable.blocked_reason``; the outbox checks
again when it sends). The page shows the address masked (``z***@example.com``) and never says whether an
email went; logs name no address.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from email.utils import parseaddr

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from integration.core.runtime import Runtime
from integration.customers.models import Customer
from integration.messaging.brand import Brand, brand_for
from integration.messaging.compose import TRANSACTIONAL
from integration.messaging.contactable import blocked_reason
from integration.messaging.links import MAX_AGE, PREFERENCES, LinkTarget, customer_link
from integration.messaging.outbox import Draft, enqueue_sends, queue_email
from integration.messaging.templates import compiled
from integration.reps.models import Rep
from integration.shops.models import Shop, ShopState

__all__ = ["TEMPLATE", "Offer", "mask_address", "offer_for", "queue_fresh_link"]

log = logging.getLogger(__name__)

TEMPLATE = "preferences_link"
DAYS = MAX_AGE // (24 * 3600)

# Styles are inlined when queued (outbox.queue_email); the brand's colours are validated #rrggbb values.
HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<style>
body { margin: 0; background: #f6f6f7; }
.wrap { max-width: 560px; margin: 0 auto; background: #ffffff; color: #1f2328;
  font: 16px/1.5 Arial, Helvetica, sans-serif; }
.band { padding: 12px 24px; background: {{ brand.accent }}; color: {{ brand.on_accent }}; font-weight: bold; }
.inner { padding: 8px 24px 24px; }
a { color: {{ brand.link }}; }
a.button { display: inline-block; padding: 12px 20px; border-radius: 4px; background: {{ brand.accent }};
  color: {{ brand.on_accent }}; border: 1px solid {{ brand.link }}; font-weight: bold; text-decoration: none; }
a.raw { word-break: break-all; }
.footer { margin-top: 24px; color: #555555; font-size: 13px; }
</style></head><body><div class="wrap">
<div class="band">{{ shop_name }}</div>
<div class="inner">
<p>Hello{% if first_name %} {{ first_name }}{% endif %},</p>
<p>Here is your new link to choose what {{ shop_name }} sends you. It works for {{ days }} days.</p>
<p><a class="button" href="{{ link }}">Choose what you receive</a></p>
<p>If the button does not work, copy this address into your browser:<br>
<a class="raw" href="{{ link }}">{{ link }}</a></p>
<p class="footer">You asked for this link on our website. If you did not, you can ignore this email.
{%- if postal %}<br>{{ postal }}{% endif %}</p>
</div></div></body></html>"""


@dataclass(frozen=True)
class Offer:
    """What the expired-link page may show: the shop, its colours, and the address masked."""

    shop_name: str
    brand: Brand
    masked_address: str | None


def mask_address(address: str) -> str:
    """``zoe@example.com`` -> ``z***@example.com``: enough to recognise, not enough to learn."""
    local, _, domain = address.strip().partition("@")
    return f"{local[:1]}***@{domain}" if local and domain else "***"


def _customer(session: Session, target: LinkTarget) -> tuple[Customer, Shop] | None:
    found = session.execute(
        sa.select(Customer, Shop)
        .join(Shop, Shop.id == Customer.shop_id)
        .where(
            Customer.id == target.customer_id,
            Shop.id == target.shop_id,
            Shop.state == ShopState.ACTIVE,
            Customer.deleted_at.is_(None),
        )
    ).one_or_none()
    return (found[0], found[1]) if found is not None else None


def offer_for(session: Session, target: LinkTarget) -> Offer | None:
    """None when there is nobody to send to (deleted customer, shop gone): the link counts as broken."""
    found = _customer(session, target)
    if found is None:
        return None
    customer, shop = found
    return Offer(
        shop_name=shop.name or shop.identifier,
        brand=brand_for(session, shop.id),
        masked_address=mask_address(customer.email) if customer.email else None,
    )


def queue_fresh_link(runtime: Runtime, target: LinkTarget, now: dt.datetime) -> None:
    """Queue (and hand to RQ) the email with a new link; quietly nothing when it may not go."""
    settings = runtime.settings
    with runtime.session() as session:
        found = _customer(session, target)
        if found is None or not found[0].email:
            return
        customer, shop = found
        assert customer.email is not None
        if blocked_reason(session, shop.id, customer.email, customer_id=customer.id, category=TRANSACTIONAL, now=now):
            log.info("fresh preference link: not sent, customer %s is not contactable", customer.id)
            return
        rep = session.get(Rep, customer.rep_id) if customer.rep_id is not None else None
        link = customer_link(session, settings, PREFERENCES, shop.id, customer.id)
        shop_name = shop.name or shop.identifier
        postal = shop.postal_address or settings.shop_postal_address or None
        first_name = (customer.first_name or "").strip()
        rep_first = rep.name.strip().split(" ")[0] if rep is not None and rep.name.strip() else ""
        text = (
            f"Hello{' ' + first_name if first_name else ''},\n\n"
            f"Here is your new link to choose what {shop_name} sends you. It works for {DAYS} days:\n\n"
            f"{link}\n\n"
            "You asked for this link on our website. If you did not, you can ignore this email.\n"
            + (f"\n{postal}\n" if postal else "")
        )
        html = compiled(True, HTML).render(
            brand=brand_for(session, shop.id),
            shop_name=shop_name,
            first_name=first_name,
            link=link,
            days=DAYS,
            postal=postal,
        )
        draft = Draft(
            shop_id=shop.id,
            # One a customer per hour, however often the button is pressed.
            dedupe_key=f"fresh-link-{customer.id}-{now:%Y%m%d%H}",
            template=TEMPLATE,
            recipient=customer.email,
            subject=f"Your preferences at {shop_name}",
            text=text,
            html=html,
            customer_id=customer.id,
            category=TRANSACTIONAL,
            sender_name=f"{rep_first} at {shop_name}" if rep_first else shop_name,
            sender_address=shop.sender_email or parseaddr(settings.mail_from)[1] or None,
            reply_to=rep.email if rep is not None else None,
        )
        outbox_id = queue_email(session, draft, settings, now=now)
    if outbox_id is not None:
        try:
            enqueue_sends(runtime, [outbox_id])  # at once; the outbox relay would within 30 s anyway
        except redis.RedisError as exc:
            log.warning("fresh preference link waits for the outbox relay (%s)", type(exc).__name__)

"""The thank-you email: after a qualifying paid order, from the customer's own rep.

Queued by the messaging reaction (``messaging.reactions``) in the transaction that applies the order, once
the order is paid (its ``paid_at``, from the platform: an order placed unpaid queues nothing until the
change that says it was paid), sent by the outbox at payment + the shop's delay (1 hour by default). None
for a test or cancelled order, none for an order paid more than 7 days before we learn of it (a backfill),
none when the shop turned it off, and none to a customer who is not contactable now (unsubscribed,
suppressed, paused, "only important", "monthly" with a marketing email in the last 30 days, or without
email consent where the shop requires it); the outbox checks all that again when it sends. From "<rep's
first name> at <shop>" on the shop's sending address (MAIL_FROM otherwise), Reply-To the rep; one per order
(dedupe key). The customer's interests do not filter it: it is about what they bought.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import Session

from integration.core.batches import batch_cached
from integration.core.config import Settings
from integration.core.db import utcnow
from integration.customers.models import Customer, Order, OrderLine
from integration.messaging.brand import make_brand
from integration.messaging.codes import WAITING, new_code
from integration.messaging.compose import MARKETING, inline_css
from integration.messaging.contactable import blocked_reason
from integration.messaging.links import PREFERENCES, UNSUBSCRIBE, customer_link, generation
from integration.messaging.models import EmailSettings, ThankYouCode
from integration.messaging.offers import CodeTerms, shop_terms, terms_for
from integration.messaging.outbox import Draft, queue_email
from integration.messaging.templates import Rendered, TemplateProblem, compiled, render_parts
from integration.reps.models import Rep
from integration.reps.reactions import QUALIFYING
from integration.shops.models import Shop

log = logging.getLogger(__name__)

TEMPLATE = "thank_you"
TOO_OLD = dt.timedelta(days=7)
DEFAULT_SUBJECT = "Thank you for your order, {{ customer.first_name }}"
DEFAULT_BODY = """Hi {{ customer.first_name }},

Thank you for your order {{ order.name }}{% if order.products %}: {{ order.products | join(", ") }}{% endif %}.

I'm {{ rep.first_name }}, your own contact at {{ shop.name }}. If anything about your order is not right, or \
you would like a suggestion for next time, just reply to this email: it comes straight to me.

{{ rep.first_name }}"""

# Our layout around the merchant's body: contact, links, postal address, in the shop's colours (a band at the
# top, the links and the preferences button; text colours chosen for contrast by messaging.brand, whose
# values are validated #rrggbb). Styles are inlined when queued.
LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<style>
body { margin: 0; background: #f6f6f7; }
.wrap { max-width: 560px; margin: 0 auto; padding: 24px; background: #ffffff; color: #1f2328;
  font: 16px/1.5 Arial, Helvetica, sans-serif; border-top: 6px solid {{ brand.accent }}; }
.contact { margin-top: 24px; padding-top: 12px; border-top: 1px solid #dddddd; }
.code { font-size: 18px; font-weight: bold; letter-spacing: 1px; }
.footer { margin-top: 24px; color: #555555; font-size: 13px; }
a { color: {{ brand.link }}; }
a.button { display: inline-block; padding: 8px 14px; border-radius: 4px; background: {{ brand.accent }};
  color: {{ brand.on_accent }}; border: 1px solid {{ brand.link }}; font-weight: bold; text-decoration: none; }
</style></head><body><div class="wrap">
{{ body }}
<p class="contact">{{ rep.name }}, {{ shop.name }}<br>
Reply to this email{% if rep.phone %} or call {{ rep.phone }}{% endif %}.</p>
{% if code %}<p>Your thank-you code: <span class="code">{{ code }}</span></p>{% endif %}
<p><a class="button" href="{{ preferences_url }}">Choose what you receive</a></p>
<p class="footer"><a href="{{ unsubscribe_url }}">Unsubscribe</a>
{%- if postal_address %}<br>{{ postal_address }}{% endif %}</p>
</div></body></html>"""


def settings_for(session: Session, shop_id: int) -> EmailSettings:
    """The shop's email settings, or the defaults (an unsaved row: column defaults apply only on INSERT)."""
    found = session.get(EmailSettings, shop_id)
    if found is not None:
        return found
    return EmailSettings(
        shop_id=shop_id,
        thankyou_enabled=True,
        thankyou_delay_minutes=60,
        consent_required_in="EU,GB,CA",
        codes_enabled=False,
        code_percent=15,
        code_days=30,
    )


def _batch_settings(session: Session, shop_id: int) -> EmailSettings:
    """The shop's email settings, read once per batch of events: a copy detached from any session (the
    session expires what it holds after each order's statements; the copy stays read)."""

    def load() -> EmailSettings:
        found = settings_for(session, shop_id)
        return EmailSettings(**{a.key: getattr(found, a.key) for a in sa.inspect(EmailSettings).column_attrs})

    return batch_cached(session, "email settings", shop_id, load)


def _first(name: str | None) -> str:
    return (name or "").strip().split(" ")[0] if name and name.strip() else ""


def context(customer: Customer, order: Order | None, items: list[str], rep: Rep | None, shop: Shop) -> dict[str, Any]:
    """What a template may use: plain strings and lists, nothing else."""
    shop_name = shop.name or shop.identifier
    return {
        "customer": {
            "first_name": customer.first_name or "there",
            "name": " ".join(p for p in (customer.first_name, customer.last_name) if p) or "",
        },
        "order": {
            "name": (order.name or f"#{order.platform_order_id}") if order is not None else "#1001",
            "products": items,
            "total": f"{order.total_price} {order.currency or ''}".strip()
            if order is not None and order.total_price is not None
            else "",
        },
        "rep": {
            "name": rep.name if rep is not None else shop_name,
            "first_name": _first(rep.name) if rep is not None else shop_name,
            "email": rep.email if rep is not None else "",
            "phone": (rep.phone or "") if rep is not None else "",
        },
        "shop": {"name": shop_name},
    }


def render(
    mail: EmailSettings,
    values: dict[str, Any],
    *,
    preferences_url: str,
    unsubscribe_url: str,
    postal: str | None,
    code: str | None = None,
    terms: CodeTerms | None = None,
) -> Rendered:
    """The whole thank-you (merchant's words in our layout); a broken saved template falls back to ours.

    ``terms``: what the code gives (the book's offer); the shop's default when not given."""
    try:
        parts = render_parts(mail.thankyou_subject or DEFAULT_SUBJECT, mail.thankyou_body or DEFAULT_BODY, values)
    except TemplateProblem as exc:
        log.warning("shop %s: thank-you template refused (%s); the default is used", mail.shop_id, exc)
        parts = render_parts(DEFAULT_SUBJECT, DEFAULT_BODY, values)
    rep, shop = values["rep"], values["shop"]
    footer_lines = [
        "--",
        f"{rep['name']}, {shop['name']}",
        "Reply to this email" + (f" or call {rep['phone']}" if rep["phone"] else "") + ".",
        "",
        f"Choose what you receive: {preferences_url}",
        f"Unsubscribe: {unsubscribe_url}",
    ]
    if code:
        terms = terms or shop_terms(mail)
        footer_lines[3:3] = [
            "",
            f"Your thank-you code: {code} ({terms.percent} % off, once, for {terms.days} days)",
        ]
    if postal:
        footer_lines += ["", postal]
    html = compiled(True, LAYOUT).render(
        brand=make_brand(mail.brand_colour),
        body=parts.html_body,
        rep=rep,
        shop=shop,
        code=code,
        preferences_url=preferences_url,
        unsubscribe_url=unsubscribe_url,
        postal_address=postal,
    )
    return Rendered(parts.subject, parts.text_body + "\n" + "\n".join(footer_lines) + "\n", Markup(html))  # noqa: S704


def schedule(session: Session, settings: Settings, order_id: int, *, now: dt.datetime | None = None) -> int | None:
    """Queue the thank-you for this order if it qualifies; the outbox id, or None (and why, in the log)."""
    now = now or utcnow()
    order = session.get(Order, order_id)
    if order is None or order.customer_id is None or order.test or order.cancelled_at is not None:
        return None
    if order.status not in QUALIFYING or order.paid_at is None:
        return None  # not paid (yet), or paid at a time not known yet: the change that says when queues it
    paid_at = order.paid_at
    if now - paid_at > TOO_OLD:
        return None  # a backfill of old orders: thanking now would be odd
    mail = _batch_settings(session, order.shop_id)
    if not mail.thankyou_enabled:
        return None
    customer = session.get_one(Customer, order.customer_id)
    if not customer.email or customer.deleted_at is not None:
        return None
    blocked = blocked_reason(
        session, order.shop_id, customer.email, customer_id=customer.id, category=MARKETING, now=now,
        required_in=mail.consent_required_in,
    )  # fmt: skip
    if blocked:
        return None  # never queued for someone we may not email; the send re-checks anyway
    shop = session.get_one(Shop, order.shop_id)
    rep = session.get(Rep, customer.rep_id) if customer.rep_id is not None else None
    items = list(
        session.scalars(sa.select(OrderLine.title).where(OrderLine.order_id == order.id).order_by(OrderLine.id))
    )
    values = context(customer, order, items, rep, shop)
    link_generation = generation(session, customer.id)
    unsubscribe_url = customer_link(session, settings, UNSUBSCRIBE, shop.id, customer.id, link_generation)
    links = {
        "preferences_url": customer_link(session, settings, PREFERENCES, shop.id, customer.id, link_generation),
        "unsubscribe_url": unsubscribe_url,
        "postal": shop.postal_address or settings.shop_postal_address or None,
    }
    code = new_code() if mail.codes_enabled else None
    # The customer's book's own offer when it has one, else the shop's; the code records which.
    terms = terms_for(session, mail, customer.rep_id) if code else None
    rendered = render(mail, values, code=code, terms=terms, **links)  # type: ignore[arg-type]
    shop_name = values["shop"]["name"]
    draft = Draft(
        shop_id=shop.id,
        dedupe_key=f"thank-you-{order.id}",
        template=TEMPLATE,
        recipient=customer.email,
        subject=rendered.subject,
        text=rendered.text_body,
        html=str(rendered.html_body),
        customer_id=customer.id,
        category=MARKETING,
        sender_name=f"{values['rep']['first_name']} at {shop_name}" if rep is not None else shop_name,
        sender_address=shop.sender_email or parseaddr(settings.mail_from)[1] or None,
        reply_to=rep.email if rep is not None else None,
        unsubscribe_url=unsubscribe_url,
        send_after=paid_at + dt.timedelta(minutes=mail.thankyou_delay_minutes),
        status=WAITING if code else "queued",
    )
    outbox_id = queue_email(session, draft, settings, now=now)
    if outbox_id is not None and code is not None and terms is not None:
        # The version without the code, for when the platform will not make it.
        plain = render(mail, values, **links)  # type: ignore[arg-type]
        session.add(
            ThankYouCode(
                shop_id=shop.id,
                customer_id=customer.id,
                outbox_id=outbox_id,
                code=code,
                percent=terms.percent,
                days=terms.days,
                ends_at=now + dt.timedelta(days=terms.days),
                rep_id=customer.rep_id,
                book_offer_id=terms.book_offer_id,
                fallback_text=plain.text_body,
                fallback_html=inline_css(str(plain.html_body)),
            )
        )
    return outbox_id

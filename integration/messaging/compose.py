"""Building the email itself from an outbox row: ``email.message.EmailMessage`` with a plain-text part and
an HTML alternative, the shop's sender, Reply-To, the stored Message-ID, and on marketing email the
RFC 8058 one-click headers."""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from urllib.parse import urlsplit

import css_inline

from integration.core.config import Settings
from integration.messaging.models import OutboxMessage
from integration.shops.models import Shop

__all__ = ["NoSender", "Sender", "build_message", "inline_css", "new_message_id", "sender_for"]

MARKETING = "marketing"
TRANSACTIONAL = "transactional"

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


class NoSender(Exception):
    """Neither the shop nor MAIL_FROM names an address to send from."""


@dataclass(frozen=True)
class Sender:
    name: str | None
    address: str


def inline_css(html: str) -> str:
    """Move ``<style>`` rules onto the elements (many mail clients drop style sheets)."""
    return _INLINER.inline(html)


def sender_for(shop: Shop | None, settings: Settings, name: str | None = None) -> Sender:
    """The shop's sending address and name, else MAIL_FROM's; ``name`` (a rep's "Dana at Shop") wins."""
    fallback_name, fallback_address = parseaddr(settings.mail_from)
    address = (shop.sender_email if shop is not None else None) or fallback_address
    if not address or "@" not in address:
        raise NoSender("no sending address: set the shop's sending address or MAIL_FROM")
    default_name = (shop.sender_name or shop.name if shop is not None else None) or fallback_name or None
    return Sender(name or default_name, address)


def new_message_id(address: str, settings: Settings | None = None) -> str:
    """A Message-ID on the sending address's domain (never the host's name: make_msgid would look it up)."""
    domain = address.rpartition("@")[2] or (urlsplit(settings.public_url).hostname if settings else None) or "localhost"
    return make_msgid(domain=domain)


def build_message(row: OutboxMessage, sender: Sender) -> EmailMessage:
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = row.subject
    message["From"] = Address(display_name=sender.name or "", addr_spec=sender.address)
    message["To"] = row.recipient
    if row.reply_to:
        message["Reply-To"] = row.reply_to
    message["Message-ID"] = row.message_id or new_message_id(sender.address)
    message["Date"] = format_datetime(row.created_at)
    if row.category == MARKETING and row.unsubscribe_url:
        # RFC 8058: an https URI the provider POSTs "List-Unsubscribe=One-Click" to, no cookies.
        message["List-Unsubscribe"] = f"<{row.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(row.text_body)
    if row.html_body:
        message.add_alternative(row.html_body, subtype="html")
    return message


def display(sender: Sender) -> str:
    return formataddr((sender.name or "", sender.address))

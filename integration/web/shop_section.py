"""The settings page's shop section: time zone (the merchant's override of the platform's), postal
address, sending name and sending address, with what the platform says about the shop beside them.

The time zone field is the override: empty means "use the platform's zone" (read at install and at
every subscription check), filled in means "use this one". The page says which zone is in use and
where it comes from. Saving moves the customers who use the shop's zone (``integration.shops.facts``).
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files
from typing import Any
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from integration.platforms.registry import PLATFORMS
from integration.shops.facts import set_time_zone_override
from integration.shops.models import Shop
from integration.web.settings import Outcome, Section, SectionRequest, local_time

POSTAL_ADDRESS_MAX = 500
SENDER_NAME_MAX = 100
EMAIL_MAX = 254  # the longest address SMTP can carry (RFC 5321 path limit less the angle brackets)


# --- the shop's details --------------------------------------------------------------------------

# Zones a shop may keep: every name the tz database knows, less the system aliases.
_NOT_SHOP_ZONES = {"localtime", "posixrules", "Factory"}


@functools.cache
def shop_zones() -> dict[str, str]:
    """Every acceptable zone name, keyed by its lower case (so ``europe/berlin`` is understood)."""
    return {name.lower(): name for name in available_timezones() - _NOT_SHOP_ZONES}


@functools.cache
def suggested_zones() -> tuple[str, ...]:
    """The names offered in the page's list: IANA's canonical zone per place (zone.tab, as the tzdata package
    ships it) and UTC, without the legacy aliases the database also accepts (those are still valid input)."""
    text = files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    known = set(shop_zones().values())
    return (*sorted({row[2] for row in rows if len(row) >= 3 and row[2] in known}), "UTC")


def valid_time_zone(_form: FlaskForm, field: StringField) -> None:
    name = shop_zones().get((field.data or "").lower())
    if name is None:
        raise ValidationError(
            f"{field.data!r} is not a time zone we know; choose one from the list, "
            "like Europe/Berlin or America/New_York."
        )
    field.data = name  # as the tz database spells it


# A strict subset of RFC 5322's addr-spec, with no display name, quoting or comments, and a domain
# of two or more DNS labels whose last is alphabetic (or an IDNA xn-- label). The WTForms Email
# validator needs the email_validator package, which this app does not install.
_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD_RE = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")


def email_problem(value: str) -> str | None:
    """Why ``value`` is not a plain ``name@example.com`` address we would send from, or None."""
    if len(value) > EMAIL_MAX:
        return f"An email address is at most {EMAIL_MAX} characters."
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or "@" in local:
        return "Enter an email address like orders@example.com."
    if len(local) > 64 or not _LOCAL_RE.fullmatch(local):
        return "The part before the @ has characters an address cannot have (or starts, ends or doubles a dot)."
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.fullmatch(label) for label in labels) or not _TLD_RE.fullmatch(labels[-1]):
        return "The part after the @ is not a domain like example.com."
    return None


def valid_email(_form: FlaskForm, field: StringField) -> None:
    problem = email_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def single_line(_form: FlaskForm, field: StringField) -> None:
    # The sender name goes into a From: header: no line breaks or other control characters.
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in field.data or ""):
        raise ValidationError("Use one line of plain text, without line breaks or tabs.")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _normalise_newlines(value: Any) -> Any:
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


class ShopForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF and WTForms ship no types
    section = HiddenField(default="shop")
    # The merchant's override of the platform's zone; empty means "the platform's" (see _shop_form).
    time_zone = StringField("Time zone", filters=[_strip], validators=[Optional(), valid_time_zone])
    postal_address = TextAreaField(
        "Postal address",
        filters=[_normalise_newlines, _strip],
        validators=[
            Optional(),
            Length(
                max=POSTAL_ADDRESS_MAX, message=f"Keep the postal address to {POSTAL_ADDRESS_MAX} characters or fewer."
            ),
        ],
        description="Shown in the footer of the emails we send for you (the law requires one in marketing email).",
    )
    sender_name = StringField(
        "Sending name",
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=SENDER_NAME_MAX, message=f"Keep the sending name to {SENDER_NAME_MAX} characters or fewer."),
            single_line,
        ],
        description="The name customers see in their inbox, like “Ada at Example Shop”.",
    )
    sender_email = StringField(
        "Sending address",
        filters=[_strip],
        validators=[Optional(), valid_email],
        description="The address emails come from and replies go to.",
    )


def platform_title(shop: Shop) -> str:
    parts = PLATFORMS.get(shop.platform)
    return parts.title if parts is not None and parts.title else "the platform"


def _time_zone_help(shop: Shop) -> str:
    """Says which zone is in effect and where it comes from: the merchant's override or the platform."""
    platform = platform_title(shop)
    theirs = f"{platform} says {shop.platform_time_zone}" if shop.platform_time_zone else f"{platform} has not said yet"
    return (
        "Where a customer's own time zone cannot be known, the shop's is used. Leave this empty to use the "
        f"shop's time zone from {platform} ({theirs}); fill it in to override that."
    )


def _shop_form(shop: Shop, *, posted: bool) -> ShopForm:
    form = (
        ShopForm()
        if posted
        else ShopForm(
            formdata=None,
            data={
                "time_zone": shop.time_zone_override or "",
                "postal_address": shop.postal_address or "",
                "sender_name": shop.sender_name or "",
                "sender_email": shop.sender_email or "",
            },
        )
    )
    form.time_zone.description = _time_zone_help(shop)
    return form


def _zone_in_effect(shop: Shop) -> dict[str, str | None]:
    if shop.time_zone_override:
        source = "your override"
    elif shop.platform_time_zone:
        source = f"from {platform_title(shop)}"
    else:
        source = None
    return {"zone": shop.time_zone, "source": source}


class ShopSection(Section):
    key = "shop"
    title = "Shop"
    template = "settings/shop.html"

    def view(self, req: SectionRequest) -> dict[str, Any]:
        shop = req.shop
        return {
            "form": _shop_form(shop, posted=False),
            "zones": suggested_zones(),
            "postal_max": POSTAL_ADDRESS_MAX,
            "in_effect": _zone_in_effect(shop),
            "platform": platform_title(shop),
            "facts": {
                "name": shop.name,
                "currency": shop.currency,
                "domain": shop.primary_domain,
                "owner_email": shop.owner_email,
                "read_at": local_time(shop.facts_read_at, shop.time_zone) if shop.facts_read_at else None,
            },
        }

    def submit(self, req: SectionRequest) -> Outcome:
        form = _shop_form(req.shop, posted=True)
        if not form.validate():
            return Outcome.again(form=form)
        # Empty: the platform's zone; customers who use the shop's zone follow whichever is in effect.
        set_time_zone_override(req.db, req.shop, form.time_zone.data or None)
        req.shop.postal_address = form.postal_address.data or None
        req.shop.sender_name = form.sender_name.data or None
        req.shop.sender_email = form.sender_email.data or None
        return Outcome.saved("Shop settings saved.")


SHOP_SECTION = ShopSection()

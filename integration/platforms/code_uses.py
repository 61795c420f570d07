"""Discount codes used on an order, from a platform's list of entries (Shopify's ``discount_codes``, a
BigCommerce order's ``coupons``): what both read alike. Each platform says which field holds the amount
and what its ``type`` means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from integration.events.changes import DiscountCodeUse

MAX_CODE = 255  # the column's width: a longer "code" is not one a customer typed, and is dropped


def decimal_or_none(value: object) -> Decimal | None:
    """A finite number from a JSON value (a string or a number), else None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def code_uses(entries: object, *, amount_key: str, kind: Callable[[object], str | None]) -> tuple[DiscountCodeUse, ...]:
    """The usable entries of ``entries`` (a list of objects with a ``code``); anything else gives none.
    An entry without a usable code is dropped: it cannot be matched to anything."""
    if not isinstance(entries, list):
        return ()
    found: list[DiscountCodeUse] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        code = entry.get("code")
        if not isinstance(code, str) or not code.strip() or len(code.strip()) > MAX_CODE:
            continue
        found.append(
            DiscountCodeUse(
                code=code.strip(), amount=decimal_or_none(entry.get(amount_key)), kind=kind(entry.get("type"))
            )
        )
    return tuple(found)

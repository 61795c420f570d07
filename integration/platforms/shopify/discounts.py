"""The discount codes on a Shopify order: REST's ``discount_codes: [{code, amount, type}]`` (webhooks, and
reconciled orders restated from GraphQL's ``discountCodes`` by ``shapes``).

``type`` is Shopify's word (``percentage``, ``fixed_amount``, ``shipping``); ``amount`` is what the code took
off the order. A code entry without a usable code is dropped: it cannot be matched to anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from integration.events.changes import DiscountCodeUse

MAX_CODE = 255


def _amount(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def discount_codes(payload: Mapping[str, object]) -> tuple[DiscountCodeUse, ...]:
    entries = payload.get("discount_codes")
    if not isinstance(entries, list):
        return ()
    found: list[DiscountCodeUse] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        code = entry.get("code")
        if not isinstance(code, str) or not code.strip() or len(code.strip()) > MAX_CODE:
            continue
        kind = entry.get("type")
        kind = kind.strip().lower()[:32] if isinstance(kind, str) else ""
        found.append(DiscountCodeUse(code=code.strip(), amount=_amount(entry.get("amount")), kind=kind or None))
    return tuple(found)

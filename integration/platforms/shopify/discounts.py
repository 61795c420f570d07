"""The discount codes on a Shopify order: REST's ``discount_codes: [{code, amount, type}]`` (webhooks, and
reconciled orders restated from GraphQL's ``discountCodes`` by ``shapes``).

``type`` is Shopify's word (``percentage``, ``fixed_amount``, ``shipping``); ``amount`` is what the code took
off the order. A code entry without a usable code is dropped: it cannot be matched to anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from integration.events.changes import DiscountCodeUse
from integration.platforms.code_uses import code_uses


def _kind(value: object) -> str | None:
    return value.strip().lower()[:32] or None if isinstance(value, str) else None


def discount_codes(payload: Mapping[str, object]) -> tuple[DiscountCodeUse, ...]:
    return code_uses(payload.get("discount_codes"), amount_key="amount", kind=_kind)

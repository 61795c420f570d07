"""The coupon codes on a BigCommerce order.

A v2 order says how much coupons took off (``coupon_discount``) and links its ``coupons`` sub-resource
(``[{id, coupon_id, order_id, code, amount, type, discount}]``). The sub-resource costs one more call on the
store's shared quota, so the client fetches it only for an order whose coupon discount is above zero.
``type`` is BigCommerce's number for the coupon's kind; ``discount`` is what it took off this order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration.events.changes import DiscountCodeUse
from integration.platforms.code_uses import code_uses, decimal_or_none

# The v2 coupon types (marketing.v2: ``type`` of an applied coupon).
COUPON_KINDS = {
    0: "per_item_discount",
    1: "percentage_discount",
    2: "per_total_discount",
    3: "shipping_discount",
    4: "free_shipping",
    5: "promotion",
}


def _kind(value: object) -> str | None:
    return COUPON_KINDS.get(value) if isinstance(value, int) and not isinstance(value, bool) else None


def has_coupon_discount(order: Mapping[str, Any]) -> bool:
    """Whether the order's coupons are worth a call: a coupon took something off it."""
    discount = decimal_or_none(order.get("coupon_discount"))
    return discount is not None and discount > 0


def coupon_codes(order: Mapping[str, Any]) -> tuple[DiscountCodeUse, ...]:
    """The codes of a fetched order's ``coupons`` list (a link object, not fetched: none)."""
    return code_uses(order.get("coupons"), amount_key="discount", kind=_kind)

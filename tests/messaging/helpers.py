"""Links for the customer pages' tests: an expired one is genuinely signed, only older than MAX_AGE."""

from __future__ import annotations

import time

from itsdangerous import TimestampSigner

from integration.core.config import Settings
from integration.messaging import links


class _LongAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - links.MAX_AGE - 3600


def expired_token(settings: Settings, purpose: str, shop_id: int, customer_id: int, generation: int = 0) -> str:
    """A token signed with the real key and salt, dated an hour past its last day."""
    serializer = links._serializer(settings, purpose)
    serializer.signer = _LongAgo
    return serializer.dumps({"s": shop_id, "c": customer_id, "g": generation})

"""What an adapter is, and the errors that tell processing what to do with an event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from integration.domain import Change, Skip


@dataclass(frozen=True)
class StoredEvent:
    """The parts of a stored webhook an adapter needs (no ORM object crosses this line)."""

    id: int
    platform: str
    shop: str
    topic: str
    body: bytes
    triggered_at: dt.datetime | None
    api_version: str | None


@dataclass(frozen=True)
class ShopAccess:
    """Who to call back at the platform for this shop."""

    shop_id: int
    identifier: str
    access_token: str | None


class BadPayload(Exception):
    """The body cannot be understood (not JSON, required fields missing): quarantine it for ops."""


class NotFoundAtPlatform(Exception):
    """The platform says the resource no longer exists (404): the event is finished with that reason."""


class TransientPlatformError(Exception):
    """The platform is rate limiting us or failing (429, 5xx, network): try again later, never fail.

    ``retry_after`` is the platform's own hint in seconds, when it gave one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Adapter(Protocol):
    platform: str

    def handles(self, topic: str) -> bool:
        """True for topics this adapter turns into changes (others are stored and ignored)."""
        ...

    def translate(self, event: StoredEvent, shop: ShopAccess) -> Sequence[Change] | Skip:
        """Turn one stored event into changes; may call the platform (BigCommerce payloads are thin).

        Raises BadPayload, NotFoundAtPlatform or TransientPlatformError.
        """
        ...


@dataclass(frozen=True)
class SubscriptionReport:
    """One check of a shop's webhook subscriptions against what the product needs (for ops)."""

    present: tuple[str, ...] = ()  # topics/scopes already subscribed and active
    created: tuple[str, ...] = ()
    reactivated: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # what could not be fixed, in words ops can act on

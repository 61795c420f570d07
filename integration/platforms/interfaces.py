"""What every platform implements (adapter, change feed, ...), and the errors that tell processing what to do."""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from integration.events.changes import Change, Skip
from integration.platforms.catalogue import CatalogueProduct

if TYPE_CHECKING:
    import requests

    from integration.core.runtime import Runtime


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


class QuotaWait(TransientPlatformError):
    """The shop's API quota is spent until ``retry_after`` seconds from now: the work steps aside (it is
    re-queued for then) instead of holding a worker that other shops' events are waiting for."""


# How long a call may wait for its shop's quota before it raises QuotaWait instead (None: the client's
# own limit). Event processing sets it, so a throttled store's events step aside at once; a platform's
# pacing honours it wherever it would sleep for its quota.
QUOTA_WAIT_LIMIT: contextvars.ContextVar[float | None] = contextvars.ContextVar("quota_wait_limit", default=None)


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
class ShopFacts:
    """What the platform says about the shop itself (Shopify ``shop``, BigCommerce ``/v2/store``).

    Each field is None when the platform gave nothing usable. ``owner_email`` is personal data: it is
    kept out of the repr, and so out of logs and tracebacks.
    """

    name: str | None = None
    time_zone: str | None = None  # an IANA name the tz database knows
    currency: str | None = None  # ISO 4217, upper case
    owner_email: str | None = None
    primary_domain: str | None = None  # a host name, no scheme

    def __repr__(self) -> str:
        return (
            f"ShopFacts(name={self.name!r}, time_zone={self.time_zone!r}, currency={self.currency!r}, "
            f"primary_domain={self.primary_domain!r}, owner_email={'<set>' if self.owner_email else None})"
        )


@dataclass(frozen=True)
class SubscriptionReport:
    """One check of a shop's webhook subscriptions against what the product needs (for ops)."""

    present: tuple[str, ...] = ()  # topics/scopes already subscribed and active
    created: tuple[str, ...] = ()
    reactivated: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # what could not be fixed, in words ops can act on


# ----- reconciliation: what each platform changed since a moment
# What each platform changed since a moment, page by page: the platform half of reconciliation.
#
# A feed lists ``(id, updated_at)`` of orders or customers changed since a time, oldest first, and says
# how reconciliation should phrase the event that stands in for a missed webhook (topic and body). The
# rest (cursors, skipping what is already current, storing events) is platform-neutral and lives in
# ``integration.sync.reconcile``.

RESOURCES = ("orders", "customers")


@dataclass(frozen=True)
class Changed:
    id: str
    updated_at: dt.datetime


class ChangeFeed(Protocol):
    def pages(self, resource: str, since: dt.datetime) -> Iterator[list[Changed]]:
        """Pages of what changed at or after ``since`` (may repeat an item; never skips one)."""
        ...

    def topic(self, resource: str) -> str: ...

    def body(self, resource: str, resource_id: str) -> bytes: ...

    def close(self) -> None: ...


# ----- write-back: our enrichment on the platform's own customer record

# Every segment the app has: a segment change removes all the others' marks in the same call.
SEGMENTS = ("prospect", "new", "returning", "vip", "lapsed")


@dataclass(frozen=True)
class WriteBackItem:
    """One customer whose segment or rep differs from what we last wrote to the platform."""

    customer_id: int
    platform_customer_id: str
    segment: str
    rep: str | None
    written_segment: str | None
    written_rep: str | None


class PlatformRefused(Exception):
    """A permanent refusal by a platform's API (401, 403, 422, GraphQL userErrors): asking again won't help."""


class ShopRefused(Exception):
    """The platform refused the whole shop (401/403, a scope missing): stop, the fault is no customer's."""


class Writer(Protocol):
    def write(self, batch: Sequence[WriteBackItem]) -> Iterator[tuple[WriteBackItem, str | None]]:
        """Write the batch, yielding (item, None) per success and (item, reason) per refusal.

        Raises TransientPlatformError and ShopRefused; what was yielded before stands.
        """
        ...

    def close(self) -> None: ...


# ----- consent pushed back to the platform


@dataclass(frozen=True)
class ConsentTarget:
    """Whose consent to write: the platform's customer id when we know it, and the email address (a
    BigCommerce subscriber is found by email; a Shopify customer by id)."""

    platform_customer_id: str | None
    email: str | None

    def __repr__(self) -> str:  # the address is personal data: never in logs or job results
        return f"ConsentTarget(platform_customer_id={self.platform_customer_id!r})"


# ----- access tokens


class TokenRefused(Exception):
    """A platform's token endpoint refused the grant (400/401/403, e.g. ``invalid_grant``): permanent."""


@dataclass(frozen=True)
class GrantedToken:
    """What the token endpoint granted (plaintext: keep it in memory only, encrypt before storing)."""

    access_token: str
    scopes: str | None
    refresh_token: str | None
    access_expires_at: dt.datetime | None
    refresh_expires_at: dt.datetime | None

    def __repr__(self) -> str:
        return f"GrantedToken(scopes={self.scopes!r}, access_expires_at={self.access_expires_at!r})"


# ----- one shop's API, whatever the platform


class Connection(Protocol):
    """A shop's API session: every job that calls a platform for one shop goes through one of these."""

    def change_feed(self) -> ChangeFeed: ...

    def products(self, product_ids: Sequence[str]) -> dict[str, CatalogueProduct]:
        """The products among ``product_ids`` the shop still has (at most ``MAX_BATCH`` ids)."""
        ...

    def writer(self) -> Writer: ...

    def ensure_subscriptions(self, webhook_token: str | None) -> SubscriptionReport:
        """Make the shop's webhook subscriptions what the product needs; report what was done."""
        ...

    def token_accepted(self) -> bool:
        """Ask the platform whether it still takes the shop's token: False only when it says the token
        is gone (401) or the shop is (404), which is what uninstalling the app does to a token; True for
        any answer past authentication. Raises TransientPlatformError when the platform cannot say."""
        ...

    def shop_facts(self) -> ShopFacts:
        """The shop's name, time zone, currency, owner email and primary domain, checked."""
        ...

    def set_email_marketing(self, target: ConsentTarget, subscribed: bool, at: dt.datetime) -> bool:
        """Write the customer's email marketing consent onto the platform's record (as of ``at``); False
        when the platform holds nobody to write it on. Raises TransientPlatformError, ShopRefused,
        PlatformRefused."""
        ...

    def create_discount_code(self, target: ConsentTarget, code: str, percent: int, ends_at: dt.datetime) -> None:
        """Make ``code`` a single-use ``percent`` % discount until ``ends_at`` (for this customer only where
        the platform can restrict it). Raises TransientPlatformError, ShopRefused, PlatformRefused."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PlatformParts:
    """Everything the rest of the app needs from one platform; ``registry`` holds one per platform."""

    name: str
    blueprint: str  # dotted path of its install and sign-in pages (``module:bp``)
    # The shop's identifier (a *.myshopify.com domain, a store hash) normalised, or None if invalid.
    normalise_identifier: Callable[[str], str | None]
    identifier_hint: str  # what a valid identifier looks like, for error messages
    identifier_option: str  # the ``shops add`` option that takes it (``domain``, ``store_hash``)
    # The origins allowed to frame our pages for this shop (its admin), for CSP frame-ancestors.
    admin_origins: Callable[[str], str | None]
    adapter: Callable[[Runtime], Adapter]
    connect: Callable[[Runtime, ShopAccess, requests.Session | None], Connection]
    # Platforms whose offline tokens expire: (runtime, identifier, refresh token, http) -> the new pair.
    refresh_token: Callable[[Runtime, str, str, requests.Session | None], GrantedToken] | None = None
    # Seconds within which a signed-in person must be confirmed again by a fresh platform token, for a
    # platform that never tells us someone was removed (None: it does, and sessions just run their course).
    confirm_staff_every: int | None = None
    title: str = ""  # how people call the platform ("Shopify"), for pages
    # What is left of the shop's API budget as the platform last reported it, in words for the ops console
    # (redis client, identifier) -> text; None: the platform keeps no shared budget to report.
    api_budget: Callable[[Any, str], str | None] | None = None

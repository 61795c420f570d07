"""The customer's signed links: the preference centre (``/p/TOKEN``) and one-click unsubscribe (``/u/TOKEN``).

No login: the link is the key. Each is an itsdangerous token with its own salt (a preference link cannot be
used as an unsubscribe link or the other way round, nor as any other token the app signs), holding the
customer, their shop and the generation of their links. Links work for 90 days after they were made
(CAN-SPAM asks for at least 30 after sending); raising the customer's generation revokes all of them at once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from integration.core.config import Settings
from integration.messaging.models import CustomerPreferences

__all__ = ["PREFERENCES", "UNSUBSCRIBE", "LinkProblem", "LinkTarget", "link_url", "make_token", "read_token", "revoke"]

PREFERENCES = "preference-centre"
UNSUBSCRIBE = "one-click-unsubscribe"
_PATHS = {PREFERENCES: "/p/", UNSUBSCRIBE: "/u/"}
MAX_AGE = 90 * 24 * 3600


@dataclasses.dataclass(frozen=True)
class LinkTarget:
    shop_id: int
    customer_id: int


class LinkProblem(Exception):
    """Why a link does not open: ``expired`` or ``revoked`` (whose customer we still know), or ``invalid``."""

    def __init__(self, kind: str, target: LinkTarget | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.target = target


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in _PATHS:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return URLSafeTimedSerializer(settings.secret_key, salt=f"personal-commerce:{purpose}")


def generation(session: Session, customer_id: int) -> int:
    found = session.scalar(
        sa.select(CustomerPreferences.link_generation).where(CustomerPreferences.customer_id == customer_id)
    )
    return int(found or 0)


def make_token(settings: Settings, purpose: str, shop_id: int, customer_id: int, link_generation: int) -> str:
    return _serializer(settings, purpose).dumps({"s": shop_id, "c": customer_id, "g": link_generation})


def link_url(settings: Settings, purpose: str, token: str) -> str:
    # From the configured public address, never a request's Host header.
    return settings.public_url.rstrip("/") + _PATHS[purpose] + token


def customer_link(
    session: Session,
    settings: Settings,
    purpose: str,
    shop_id: int,
    customer_id: int,
    link_generation: int | None = None,
) -> str:
    """``link_generation``: the customer's, when the caller has read it already (several links at once)."""
    if link_generation is None:
        link_generation = generation(session, customer_id)
    return link_url(settings, purpose, make_token(settings, purpose, shop_id, customer_id, link_generation))


def _target(payload: Any) -> tuple[LinkTarget, int]:
    if not isinstance(payload, dict):
        raise LinkProblem("invalid")
    shop_id, customer_id, gen = payload.get("s"), payload.get("c"), payload.get("g")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (shop_id, customer_id, gen)):
        raise LinkProblem("invalid")
    return LinkTarget(int(shop_id), int(customer_id)), int(gen)  # type: ignore[arg-type]


def read_token(session: Session, settings: Settings, purpose: str, token: str) -> LinkTarget:
    """Whose link this is; raises :class:`LinkProblem`."""
    serializer = _serializer(settings, purpose)
    try:
        payload = serializer.loads(token, max_age=MAX_AGE)
    except SignatureExpired as exc:
        # The signature is ours, only old: we may offer this customer a fresh link, unless the link was
        # revoked as well (revoking is deliberate: an old link must not bring a new one).
        try:
            target, gen = _target(serializer.load_payload(exc.payload) if exc.payload is not None else None)
        except (LinkProblem, BadSignature):
            raise LinkProblem("invalid") from None
        kind = "expired" if gen == generation(session, target.customer_id) else "revoked"
        raise LinkProblem(kind, target) from None
    except BadSignature:
        raise LinkProblem("invalid") from None
    target, gen = _target(payload)
    if gen != generation(session, target.customer_id):
        raise LinkProblem("revoked", target)
    return target


def revoke(session: Session, shop_id: int, customer_id: int) -> None:
    """Every link made for this customer so far stops working."""
    prefs = session.get(CustomerPreferences, customer_id)
    if prefs is None:
        session.add(CustomerPreferences(customer_id=customer_id, shop_id=shop_id, link_generation=1))
    else:
        prefs.link_generation += 1
    session.flush()

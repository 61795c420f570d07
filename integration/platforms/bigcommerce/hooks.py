"""BigCommerce webhook subscriptions: the hooks a store needs, made to exist, be active and carry its token.

Research: shared/platforms/bigcommerce.md §1.7 (``/v3/hooks``: one hook per store + app + scope +
destination; list first), §1.5 (hooks deactivate after 48 hours of failed deliveries, or silently after 90
days without events; ``PUT is_active: true`` brings one back) and §1.8 (``store/hook/deliveryException``:
one per store + app, at a destination no other hook uses).

Every hook sends the store's webhook token in ``X-Webhook-Token`` (what ``POST /webhooks/bigcommerce``
checks). A reinstall issues a new token, so a hook still sending the old one is given the new one.
:func:`ensure_hooks` is run at install and by the scheduled subscription health check; it is idempotent.
The token and the hooks' headers never go into logs or the report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from integration.core.config import Settings
from integration.platforms.bigcommerce.client import BigCommerceAPIError, BigCommerceClient
from integration.platforms.bigcommerce.topics import APP_UNINSTALLED, WEBHOOK_SCOPES
from integration.platforms.interfaces import NotFoundAtPlatform, SubscriptionReport

log = logging.getLogger(__name__)

HOOKS_PATH = "/v3/hooks"
# The header the webhook edge checks (webhooks/bigcommerce.py TOKEN_HEADER; integration/ never imports it).
TOKEN_HEADER = "X-Webhook-Token"  # noqa: S105 - a header name, not a secret
DELIVERY_EXCEPTION = "store/hook/deliveryException"
# Every hook to the events path (store/app/uninstalled among them: a second signal besides the callback).
EVENT_SCOPES: frozenset[str] = WEBHOOK_SCOPES | {APP_UNINSTALLED}
EVENTS_PATH = "/webhooks/bigcommerce"
# deliveryException must go to a destination no other hook uses: a second path on the same edge.
DELIVERY_EXCEPTION_PATH = "/webhooks/bigcommerce/delivery-exception"
PAGE_LIMIT = 250
MAX_PAGES = 40  # 10,000 hooks: far beyond what one app can have on a store; guards against a looping API


def wanted_hooks(settings: Settings) -> dict[str, str]:
    """scope -> destination for every hook a store needs."""
    base = settings.public_url.rstrip("/")
    wanted = {scope: base + EVENTS_PATH for scope in EVENT_SCOPES}
    wanted[DELIVERY_EXCEPTION] = base + DELIVERY_EXCEPTION_PATH
    return wanted


def list_hooks(client: BigCommerceClient) -> list[dict[str, Any]]:
    """Every hook this app has on the store (the API lists only the hooks of the token's app)."""
    hooks: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        items, more = client.get_v3_page(HOOKS_PATH, {"page": str(page), "limit": str(PAGE_LIMIT)})
        hooks.extend(items)
        if not more or not items:
            break
    return hooks


def _sends_token(hook: Mapping[str, Any], webhook_token: str) -> bool:
    headers = hook.get("headers")
    if not isinstance(headers, Mapping):
        return False
    sent = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == TOKEN_HEADER.lower()]
    return sent == [webhook_token]


def _headers_with_token(hook: Mapping[str, Any] | None, webhook_token: str) -> dict[str, str]:
    """The hook's own headers (if any) with ours set to the current token."""
    headers = hook.get("headers") if hook is not None else None
    kept = {
        k: v
        for k, v in (headers.items() if isinstance(headers, Mapping) else ())
        if isinstance(k, str) and isinstance(v, str) and k.lower() != TOKEN_HEADER.lower()
    }
    return {**kept, TOKEN_HEADER: webhook_token}


def _hook_id(hook: Mapping[str, Any]) -> int | None:
    value = hook.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ensure_hooks(client: BigCommerceClient, settings: Settings, webhook_token: str) -> SubscriptionReport:
    """Make the store's hooks what we need: each missing (scope, destination) created, each inactive one
    re-activated, each one sending a stale token given the current one.

    The report lists scopes: ``present`` (already right), ``created``, ``reactivated`` (put back to work:
    re-activated, given the current token, or moved to the current destination) and ``problems`` (what
    the API refused, or what needs a person). A hook the API refuses is reported and the rest still
    done. A transient failure (rate limit, 5xx, network) raises TransientPlatformError: run it again.
    """
    wanted = wanted_hooks(settings)
    hooks = list_hooks(client)
    present: list[str] = []
    created: list[str] = []
    reactivated: list[str] = []
    problems: list[str] = []
    handled: set[int] = set()

    for scope, destination in sorted(wanted.items()):
        same = [h for h in hooks if h.get("scope") == scope and h.get("destination") == destination]
        hook = same[0] if same else None
        if hook is None and scope == DELIVERY_EXCEPTION:
            # Only one per store and app: one left at an old destination (PUBLIC_URL changed) is moved.
            hook = next((h for h in hooks if h.get("scope") == scope), None)
        hook_id = _hook_id(hook) if hook is not None else None
        try:
            if hook is None or hook_id is None:
                body = {
                    "scope": scope,
                    "destination": destination,
                    "is_active": True,
                    "headers": _headers_with_token(None, webhook_token),
                }
                client.request("POST", HOOKS_PATH, json=body)
                created.append(scope)
                continue
            handled.add(hook_id)
            fix: dict[str, object] = {}
            if hook.get("destination") != destination:
                fix["destination"] = destination
            if hook.get("is_active") is not True:
                fix["is_active"] = True
            if not _sends_token(hook, webhook_token):
                fix["headers"] = _headers_with_token(hook, webhook_token)
            if not fix:
                present.append(scope)
                continue
            # A PUT must name at least one field (an empty one is a 422), which ``fix`` always does.
            client.request("PUT", f"{HOOKS_PATH}/{hook_id}", json=fix)
            reactivated.append(scope)
        except (BigCommerceAPIError, NotFoundAtPlatform) as exc:
            problems.append(f"{scope}: {exc}")

    for hook in hooks:
        hook_id, hook_scope = _hook_id(hook), hook.get("scope")
        if hook_id in handled or not isinstance(hook_scope, str) or hook_scope not in wanted:
            continue
        if hook.get("destination") != wanted[hook_scope]:
            problems.append(
                f"{hook_scope}: hook {hook_id} delivers to {hook.get('destination')!r}, not {wanted[hook_scope]!r}"
                " (delete it if PUBLIC_URL changed)"
            )

    report = SubscriptionReport(
        present=tuple(present), created=tuple(created), reactivated=tuple(reactivated), problems=tuple(problems)
    )
    log.info(
        "BigCommerce store %s hooks: %d present, %d created, %d reactivated, %d problems",
        client.store_hash,
        len(present),
        len(created),
        len(reactivated),
        len(problems),
    )
    return report

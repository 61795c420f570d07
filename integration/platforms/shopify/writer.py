"""Write-back to Shopify: a ``pc-segment:<segment>`` tag and one JSON metafield per customer.

Tags go through ``tagsAdd``/``tagsRemove`` only (``customerUpdate`` tags would replace the tags other apps
and the merchant set); the metafield ``personal_commerce.profile`` = ``{"segment": ..., "rep": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from integration.platforms.interfaces import SEGMENTS, NotFoundAtPlatform, ShopRefused, WriteBackItem
from integration.platforms.shopify.client import ShopifyAPIError, ShopifyGraphQL

SEGMENT_TAG_PREFIX = "pc-segment:"
METAFIELD_NAMESPACE = "personal_commerce"
METAFIELD_KEY = "profile"
METAFIELD_TYPE = "json"


def segment_tag(segment: str) -> str:
    return f"{SEGMENT_TAG_PREFIX}{segment}"


class ShopifyWriter:
    def __init__(self, client: ShopifyGraphQL) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def write(self, batch: Sequence[WriteBackItem]) -> Iterator[tuple[WriteBackItem, str | None]]:
        for item in batch:
            try:
                self._write_one(item)
            except ShopifyAPIError as exc:
                if exc.status in (401, 403) or "ACCESS_DENIED" in exc.codes:
                    raise ShopRefused(str(exc)) from exc
                yield item, str(exc)
            except (NotFoundAtPlatform, ValueError) as exc:  # ValueError: not a Shopify customer id
                yield item, f"{type(exc).__name__}: {exc}"
            else:
                yield item, None

    def _write_one(self, item: WriteBackItem) -> None:
        customer = item.platform_customer_id
        if item.segment != item.written_segment:
            # Add before removing: the customer is never without a segment tag in between.
            self.client.tags_add(customer, [segment_tag(item.segment)])
            if item.written_segment is not None:
                others = {*SEGMENTS, item.written_segment} - {item.segment}
                self.client.tags_remove(customer, sorted(segment_tag(s) for s in others))
        profile = json.dumps({"segment": item.segment, "rep": item.rep}, separators=(",", ":"))
        self.client.metafield_set(customer, METAFIELD_NAMESPACE, METAFIELD_KEY, METAFIELD_TYPE, profile)

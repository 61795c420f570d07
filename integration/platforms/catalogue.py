"""What a product *is*, read from the platform's catalogue: its title and its type, a batch of ids at a time.

Neither platform's order payload says what kind of product a line is, so the "types bought most" list
needs one catalogue read per product, ever. Both functions take up to :data:`MAX_BATCH` ids and return
the products the platform still has; an id missing from the answer is a product the merchant deleted.

* Shopify: ``nodes(ids: [...])`` with ``... on Product { legacyResourceId title productType }``, one
  GraphQL call per batch (``nodes`` takes at most 250 ids). ``productType`` is free text the merchant
  types in; an empty one means "no type".
* BigCommerce has no product type. Its nearest equivalent is the category, so here a BigCommerce
  product's "type" is the name of its *first* category (the first id in ``categories``). That costs two
  calls per batch: ``GET /v3/catalog/products?id:in=...&include_fields=name,categories`` and then
  ``GET /v3/catalog/trees/categories?category_id:in=...`` for the names (the category-trees endpoint,
  because ``/v3/catalog/categories`` is deprecated). A product in no category has no type.

Errors are the clients' own: TransientPlatformError (try again later), ShopifyAPIError or
BigCommerceAPIError (a refusal, e.g. the ``read_products`` / products read-only scope is missing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_BATCH = 250  # Shopify's cap on nodes(ids:), and BigCommerce's on a v3 page
PRODUCT_ID_RE = re.compile(r"[0-9]{1,20}")
PRODUCT_GID_PREFIX = "gid://shopify/Product/"
TYPE_MAX = 255  # products.product_type
TITLE_MAX = 512  # products.title


@dataclass(frozen=True)
class CatalogueProduct:
    product_id: str  # the numeric id order lines carry
    title: str | None
    product_type: str | None  # None: the product has none (BigCommerce: it is in no category)


def text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def check_ids(product_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(product_ids))
    if len(ids) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} product ids per call")
    bad = [i for i in ids if not PRODUCT_ID_RE.fullmatch(i)]
    if bad:
        # They end up in a GraphQL id or a query string; callers filter them out first.
        raise ValueError("product ids must be numeric")
    return ids


__all__ = ["MAX_BATCH", "PRODUCT_ID_RE", "TITLE_MAX", "TYPE_MAX", "CatalogueProduct", "check_ids", "text"]

"""Write-back to BigCommerce: two customer attributes per store, defined once, upserted ten values a call."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.platforms.bigcommerce import attributes
from integration.platforms.bigcommerce.client import BigCommerceAPIError, BigCommerceClient
from integration.platforms.interfaces import NotFoundAtPlatform, ShopRefused, WriteBackItem
from integration.shops.models import Shop, ShopState

BC_SEGMENT_ATTRIBUTE = "Personal Commerce segment"
BC_REP_ATTRIBUTE = "Personal Commerce rep"


class BigCommerceWriter:
    def __init__(self, runtime: Runtime, shop_id: int, client: BigCommerceClient) -> None:
        self.runtime = runtime
        self.shop_id = shop_id
        self.client = client
        self._ids: tuple[int, int] | None = None

    def close(self) -> None:
        self.client.close()

    def write(self, batch: Sequence[WriteBackItem]) -> Iterator[tuple[WriteBackItem, str | None]]:
        try:
            segment_id, rep_id = self._attribute_ids()
        except BigCommerceAPIError as exc:
            raise ShopRefused(str(exc)) from exc
        valid = []
        for item in batch:
            if attributes.valid_customer_id(item.platform_customer_id):
                valid.append(item)
            else:
                yield item, "not a BigCommerce customer id"
        for chunk in _chunks(valid, lambda item: len(_values(item, segment_id, rep_id))):
            try:
                self._write(chunk, segment_id, rep_id)
            except (BigCommerceAPIError, NotFoundAtPlatform) as exc:
                _raise_if_shop_refused(exc)
                if len(chunk) == 1:
                    yield chunk[0], str(exc)
                    continue
                # One refused value fails the whole call: write them one by one to find whose it is.
                for item in chunk:
                    try:
                        self._write([item], segment_id, rep_id)
                    except (BigCommerceAPIError, NotFoundAtPlatform) as one:
                        _raise_if_shop_refused(one)
                        yield item, str(one)
                    else:
                        yield item, None
            else:
                for item in chunk:
                    yield item, None

    def _write(self, chunk: Sequence[WriteBackItem], segment_id: int, rep_id: int) -> None:
        values = [value for item in chunk for value in _values(item, segment_id, rep_id)]
        attributes.upsert_values(self.client, values)
        # An unassigned rep is removed (BigCommerce has no empty value to upsert).
        cleared = [int(item.platform_customer_id) for item in chunk if item.rep is None and item.written_rep]
        attributes.delete_values(self.client, rep_id, cleared)

    def _attribute_ids(self) -> tuple[int, int]:
        """The store's two attributes: remembered on the shop row, else found by name or created once."""
        if self._ids is not None:
            return self._ids
        with self.runtime.session() as session:
            shop = session.get(Shop, self.shop_id)
            stored = (shop.bc_segment_attribute_id, shop.bc_rep_attribute_id) if shop else (None, None)
        segment_id = stored[0] or attributes.ensure_attribute(self.client, BC_SEGMENT_ATTRIBUTE)
        rep_id = stored[1] or attributes.ensure_attribute(self.client, BC_REP_ATTRIBUTE)
        if (segment_id, rep_id) != stored:
            with self.runtime.session() as session:
                session.execute(
                    sa.update(Shop)
                    .where(Shop.id == self.shop_id, Shop.state == ShopState.ACTIVE)
                    .values(bc_segment_attribute_id=segment_id, bc_rep_attribute_id=rep_id)
                )
        self._ids = (segment_id, rep_id)
        return self._ids


def _raise_if_shop_refused(exc: Exception) -> None:
    if isinstance(exc, BigCommerceAPIError) and exc.status in (401, 403):
        raise ShopRefused(str(exc)) from exc


def _values(item: WriteBackItem, segment_id: int, rep_id: int) -> list[attributes.AttributeValue]:
    """Only what changed: an unchanged value is not sent again."""
    customer = int(item.platform_customer_id)
    values = []
    if item.segment != item.written_segment:
        values.append(attributes.AttributeValue(segment_id, customer, item.segment))
    if item.rep is not None and item.rep != item.written_rep:
        values.append(attributes.AttributeValue(rep_id, customer, item.rep))
    return values


def _chunks(batch: Sequence[WriteBackItem], size: Callable[[WriteBackItem], int]) -> Iterator[list[WriteBackItem]]:
    """Customers grouped so that one upsert carries at most ten values, a customer's never split."""
    chunk: list[WriteBackItem] = []
    used = 0
    for item in batch:
        needed = size(item)
        if chunk and used + needed > attributes.MAX_VALUES_PER_CALL:
            yield chunk
            chunk, used = [], 0
        chunk.append(item)
        used += needed
    if chunk:
        yield chunk

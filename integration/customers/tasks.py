"""The customers domain's periodic job: every shop's VIP threshold and its customers' segments."""

from __future__ import annotations

from integration.core.periodic import Periodic, every
from integration.core.queues import BULK

# Reads every profile of every shop: minutes on a large shop, so bulk work, never ahead of events.
REFRESH_SEGMENTS = Periodic("jobs.customers.refresh_segments", every=every(3600), timeout=1800, queue=BULK)

PERIODIC = (REFRESH_SEGMENTS,)

"""The messaging domain's periodic jobs: the outbox relay (due rows, lost jobs)."""

from __future__ import annotations

from integration.core.periodic import Periodic, every

# Every 30 s: a delayed thank-you goes out within half a minute of its time, a lost job within as long.
RELAY_OUTBOX = Periodic("jobs.messaging.relay_outbox", every=every(30), timeout=60)

PERIODIC = (RELAY_OUTBOX,)

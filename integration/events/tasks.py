"""The events domain's periodic job: the sweep that re-queues events Redis lost or a dead worker left."""

from __future__ import annotations

from integration.core.periodic import Periodic

SWEEP = Periodic("jobs.events.sweep_events", every=lambda settings: settings.sweep_interval, timeout=300)

PERIODIC = (SWEEP,)

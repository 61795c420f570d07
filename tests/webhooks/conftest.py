"""Fixtures for the webhook endpoint tests: reading the stored rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from integration.core.runtime import Runtime
from integration.events.models import WebhookEvent


@pytest.fixture
def stored(app_runtime: Runtime) -> Callable[[], list[WebhookEvent]]:
    """Reads every stored webhook event, oldest first, in a fresh session."""

    def load() -> list[WebhookEvent]:
        with app_runtime.session() as session:
            return list(session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)))

    return load

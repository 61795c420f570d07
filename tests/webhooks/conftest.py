"""Fixtures for the webhook endpoint tests: apps with adjusted settings, and reading the stored rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest
import sqlalchemy as sa
from flask import Flask

from integration import create_app, intake_of, runtime_of
from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.events.models import WebhookEvent


class AppFactory(Protocol):
    def __call__(self, *, testing: bool = True, **changes: Any) -> Flask: ...


def close_intake(app: Flask) -> None:
    """Give back the DBAPI connection the app's EventIntake holds (engine.dispose() leaves it open)."""
    intake_of(app).close()


@pytest.fixture
def make_app(settings: Settings) -> Iterator[AppFactory]:
    """Builds another app from the test settings with some fields changed; disposes its engine after.

    ``testing=False`` lets an unhandled exception become the 500 a platform would see, instead of
    propagating into the test.
    """
    apps: list[Flask] = []

    def build(*, testing: bool = True, **changes: Any) -> Flask:
        app = create_app(settings.replace(**changes))
        app.testing = testing
        apps.append(app)
        return app

    yield build
    for app in apps:
        close_intake(app)
        runtime_of(app).engine.dispose()


@pytest.fixture
def stored(app_runtime: Runtime) -> Callable[[], list[WebhookEvent]]:
    """Reads every stored webhook event, oldest first, in a fresh session."""

    def load() -> list[WebhookEvent]:
        with app_runtime.session() as session:
            return list(session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)))

    return load

"""Fixtures for the integration-package tests: the intake, a registered shop, an app that cleans up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from integration import intake_of
from integration.intake import EventIntake
from integration.runtime import Runtime
from integration.shops import RegisteredShop
from tests.helpers import add_shop


@pytest.fixture
def intake(runtime: Runtime) -> Iterator[EventIntake]:
    intake = EventIntake(runtime.engine)
    yield intake
    intake._discard_connection()  # the intake keeps its DBAPI connection for the thread's lifetime


@pytest.fixture
def shop(runtime: Runtime) -> RegisteredShop:
    """The default Shopify shop (tests.helpers.SHOP_DOMAIN), registered and active."""
    return add_shop(runtime)


@pytest.fixture
def app(app: Flask) -> Iterator[Flask]:
    """The suite's ``app``, whose intake connection is closed before the app is thrown away."""
    yield app
    intake_of(app)._discard_connection()

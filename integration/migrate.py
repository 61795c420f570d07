"""Alembic, driven from code: ``flask --app integration db upgrade`` and the test fixtures use this."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config

from integration.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # Passed as an attribute, not an ini option: ini interpolation would mangle a '%' in a password.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    # Alembic announces each of its plugins at INFO on every run; the migrations themselves still log.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    command.upgrade(alembic_config(database_url), revision)

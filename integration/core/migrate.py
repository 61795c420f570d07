"""Alembic, driven from code: ``flask --app integration db upgrade`` and the test fixtures use this."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from integration.core.config import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config


def _quiet_alembic_plugins() -> None:
    # Alembic announces each of its plugins at INFO as it is imported; the migrations still log.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def alembic_config(database_url: str, token_encryption_key: str | None = None) -> Config:
    _quiet_alembic_plugins()
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # Passed as an attribute, not an ini option: ini interpolation would mangle a '%' in a password.
    config.attributes["database_url"] = database_url
    # Data migrations that encrypt secrets use the app's key, not whatever the environment holds.
    config.attributes["token_encryption_key"] = token_encryption_key
    return config


def upgrade(database_url: str, revision: str = "head", token_encryption_key: str | None = None) -> None:
    config = alembic_config(database_url, token_encryption_key)
    from alembic import command

    command.upgrade(config, revision)

from __future__ import annotations

import pytest

from integration.core.config import Settings
from tests.messaging.smtp_server import SmtpServer, smtp_server

__all__ = ["smtp_server"]


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    """The suite's settings with SMTP_URL pointing at the loopback server."""
    return settings.replace(
        smtp_url=smtp_server.url, mail_from="Shop <hello@shop.example>", shop_postal_address="1 High St, Town"
    )

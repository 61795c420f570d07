from __future__ import annotations

import pytest
import sqlalchemy as sa

from integration.core.config import Settings
from integration.core.runtime import Runtime
from integration.messaging.models import OutboxMessage
from integration.shops.models import Shop
from tests.helpers import RuntimeFactory, add_shop
from tests.messaging.smtp_server import SmtpServer, smtp_server
from tests.reps.conftest import World

__all__ = ["smtp_server"]


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    """The suite's settings with SMTP_URL pointing at the loopback server."""
    return settings.replace(
        smtp_url=smtp_server.url, mail_from="Shop <hello@shop.example>", shop_postal_address="1 High St, Town"
    )


@pytest.fixture
def mail_runtime(make_runtime: RuntimeFactory, smtp_server: SmtpServer) -> Runtime:
    return make_runtime(smtp_url=smtp_server.url, public_url="https://app.example")


@pytest.fixture
def world(mail_runtime: Runtime) -> World:
    """A shop (Fern & Co) with one rep, Dana, whose orders go through every domain's reaction."""
    shop = add_shop(mail_runtime)
    with mail_runtime.session() as session:
        session.execute(
            sa.update(Shop)
            .where(Shop.id == shop.id)
            .values(name="Fern & Co", sender_email="hello@fern.example", postal_address="1 High Street, Oakland CA")
        )
    found = World(mail_runtime, shop.id)
    found.rep("dana.reyes@fern.example", zone="America/Los_Angeles")
    return found


def thank_yous(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.session() as session:
        rows = list(
            session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.template == "thank_you").order_by(OutboxMessage.id)
            )
        )
        session.expunge_all()
        return rows

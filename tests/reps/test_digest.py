"""Each rep's morning digest: one outbox email of the day's calls at 08:00 in the rep's own zone."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa

from integration.customers.models import Customer
from integration.messaging.models import OutboxMessage
from integration.reps.digest import write_digests
from integration.reps.models import Rep
from integration.reps.roster import send_away
from integration.reps.tasks import MORNING_DIGESTS
from tests.reps.conftest import World, utc

DELIVERED = utc(2027, 3, 4, 15)  # Thursday: calls are due on Monday 8 March


@pytest.fixture
def reps(world: World) -> dict[str, int]:
    """Dana in London and Lee in Los Angeles, each with one call due on Monday; Zed in Tokyo with none."""
    found = {
        "dana": world.rep("dana@shop.example", zone="Europe/London"),
        "lee": world.rep("lee@shop.example", zone="America/Los_Angeles"),
        "zed": world.rep("zed@shop.example", zone="Asia/Tokyo"),
    }
    world.order(1001, email="ann@example.com", zone="Europe/London", now=DELIVERED)
    world.order(1002, email="cal@example.com", zone="America/Los_Angeles", now=DELIVERED)
    with world.runtime.session() as session:
        session.execute(sa.update(Customer).where(Customer.email == "ann@example.com").values(last_name="O'Hara <&>"))
    world.deliver(1001, DELIVERED, now=DELIVERED)
    world.deliver(1002, DELIVERED, now=DELIVERED)
    return found


def digest_at(world: World, now: dt.datetime) -> int:
    with world.runtime.session() as session:
        return write_digests(session, now=now)


def outbox(world: World) -> list[OutboxMessage]:
    with world.runtime.session() as session:
        return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_each_rep_gets_one_digest_at_eight_in_their_own_zone(world: World, reps: dict[str, int]) -> None:
    assert digest_at(world, utc(2027, 3, 8, 7, 59)) == 0  # 07:59 in London
    assert digest_at(world, utc(2027, 3, 8, 8, 0)) == 1  # 08:00 in London, midnight in Los Angeles
    assert digest_at(world, utc(2027, 3, 8, 8, 15)) == 0  # the next run writes nothing twice
    (dana,) = outbox(world)
    assert (dana.recipient, dana.template, dana.status) == ("dana@shop.example", "rep_digest", "queued")
    assert dana.dedupe_key == f"digest-{reps['dana']}-2027-03-08"
    assert dana.subject == "Your call today, Monday 8 March: 1"
    assert "10:00  Ann O'Hara <&>, 10:00 their time (Europe/London), orders #1001" in dana.text_body
    assert "cal@example.com" not in dana.text_body and "Cal" not in dana.text_body
    assert dana.html_body is not None and "Ann O'Hara &lt;&amp;&gt;" in dana.html_body
    assert "<&>" not in dana.html_body

    assert digest_at(world, utc(2027, 3, 8, 15, 59)) == 0  # 07:59 in Los Angeles
    assert digest_at(world, utc(2027, 3, 8, 16, 0)) == 1
    lee = outbox(world)[1]
    assert (lee.recipient, lee.dedupe_key) == ("lee@shop.example", f"digest-{reps['lee']}-2027-03-08")
    # Cal's call is at 10:00 Pacific: in Lee's digest in Lee's time, which is also Cal's.
    assert "10:00  Cal Example, 10:00 their time (America/Los_Angeles), orders #1002" in lee.text_body
    # Zed has no calls: no email, even at 08:00 in Tokyo.
    assert digest_at(world, utc(2027, 3, 8, 23, 30)) == 0
    assert {m.recipient for m in outbox(world)} == {"dana@shop.example", "lee@shop.example"}


def test_a_call_not_made_yesterday_is_in_today_s_digest_as_overdue(world: World, reps: dict[str, int]) -> None:
    digest_at(world, utc(2027, 3, 8, 8))
    assert digest_at(world, utc(2027, 3, 9, 8)) == 1  # Tuesday: Monday's call is still open
    tuesday = outbox(world)[-1]
    assert tuesday.dedupe_key == f"digest-{reps['dana']}-2027-03-09"
    assert "10:00 (overdue)  Ann" in tuesday.text_body


def test_the_backup_s_digest_carries_the_away_rep_s_calls(world: World, reps: dict[str, int]) -> None:
    with world.runtime.session() as session:
        dana, lee = session.get(Rep, reps["dana"]), session.get(Rep, reps["lee"])
        assert dana is not None and lee is not None
        send_away(session, dana, dt.date(2027, 3, 12), lee, today=dt.date(2027, 3, 1))
    world.order(1003, email="dot@example.com", zone="Europe/London", now=DELIVERED)
    world.deliver(1003, DELIVERED, now=DELIVERED)  # opened while Dana is away: Lee's hours, Dot's window
    assert digest_at(world, utc(2027, 3, 8, 8)) == 0  # Dana is away: her calls are not hers this week
    assert digest_at(world, utc(2027, 3, 8, 16)) == 1
    (lee_digest,) = outbox(world)
    assert lee_digest.recipient == "lee@shop.example"
    assert lee_digest.subject == "Your calls today, Monday 8 March: 3"
    # Ann's call (set for Dana's 10:00 before she went away) and Dot's follow Lee's hours: 09:00 Pacific.
    assert lee_digest.text_body.splitlines()[4:7] == [
        "09:00  Ann O'Hara <&>, 17:00 their time (Europe/London), orders #1001",
        "09:00  Dot Example, 17:00 their time (Europe/London), orders #1003",
        "10:00  Cal Example, 10:00 their time (America/Los_Angeles), orders #1002",
    ]


def test_the_digest_job_runs_every_quarter_hour_and_logs_nothing_personal(
    world: World, reps: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    assert MORNING_DIGESTS.func == "jobs.reps.morning_digests"
    assert MORNING_DIGESTS.every(None) == 900  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        digest_at(world, utc(2027, 3, 8, 16))
    assert "morning digests written: 2" in caplog.text
    for personal in ("example.com", "shop.example", "Ann", "Cal", "Dana", "Lee"):
        assert personal not in caplog.text

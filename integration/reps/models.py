"""Dedicated reps, their books, and the post-purchase check-ins they work.

A rep holds at most ``capacity`` customers (150 by default, Dunbar's number). ``book_size`` is kept
beside the capacity and moved in the same statement that assigns a customer, so a full book is refused by
the database itself, also when several workers assign at once.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from integration.core.db import Base, BigId, utcnow

__all__ = ["CheckIn", "CheckInAttempt", "CheckInOrder", "CheckInSettings", "CheckInStatus", "Rep", "RepState"]

DUNBAR = 150


class RepState(enum.StrEnum):
    ACTIVE = "active"
    AWAY = "away"  # check-ins due in the away dates go to the backup; the book stays
    LEFT = "left"  # the book was handed over; kept for history


class CheckInStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    DUE = "due"
    DONE = "done"
    CANCELLED = "cancelled"
    UNREACHABLE = "unreachable"


OPEN_CHECKIN = (CheckInStatus.SCHEDULED, CheckInStatus.DUE)


class Rep(Base):
    """A person on the shop's roster with a book of customers of their own."""

    __tablename__ = "reps"
    __table_args__ = (
        sa.UniqueConstraint("shop_id", "email", name="uq_reps_shop_email"),
        sa.CheckConstraint("book_size >= 0", name="ck_reps_book_size"),
        sa.Index("ix_reps_shop_state", "shop_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    # The platform sign-in of the same person, when they have one (linked by email on the roster).
    staff_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(64))
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    # {"mon": [["09:00", "17:00"]], ...} in the rep's own zone (reps.hours parses and checks it).
    working_hours: Mapped[str] = mapped_column(sa.Text)
    capacity: Mapped[int] = mapped_column(default=DUNBAR, server_default=str(DUNBAR))
    # Above 150 only with this set by the merchant, and shown as a warning wherever the rep is.
    capacity_override: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    book_size: Mapped[int] = mapped_column(default=0, server_default="0")
    state: Mapped[str] = mapped_column(sa.String(16), default=RepState.ACTIVE, server_default="active")
    away_from: Mapped[dt.date | None] = mapped_column(sa.Date)
    away_until: Mapped[dt.date | None] = mapped_column(sa.Date)
    backup_rep_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reps.id", ondelete="SET NULL"))
    left_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CheckInSettings(Base):
    """A shop's check-in rules (one row per shop; defaults until the merchant changes them)."""

    __tablename__ = "checkin_settings"

    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    transit_days: Mapped[int] = mapped_column(default=4, server_default="4")
    delay_days: Mapped[int] = mapped_column(default=2, server_default="2")
    min_days_between: Mapped[int] = mapped_column(default=30, server_default="30")
    # The customer's calling window, in their own zone: "Mon-Fri 10:00-19:00" (reps.hours syntax).
    calling_window: Mapped[str] = mapped_column(sa.String(255), default="Mon-Fri 10:00-19:00")
    # The four questions, one per line, editable per shop.
    call_script: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CheckIn(Base):
    """One call to make: after a delivery (post-purchase) or on a date a rep chose (follow-up)."""

    __tablename__ = "checkins"
    __table_args__ = (
        # One open check-in per customer: a second delivery before the call folds into the same task.
        sa.Index(
            "uq_checkins_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=sa.text("status IN ('scheduled', 'due') AND kind = 'post_purchase'"),
            postgresql_where=sa.text("status IN ('scheduled', 'due') AND kind = 'post_purchase'"),
        ),
        sa.Index("ix_checkins_shop_status_due", "shop_id", "status", "due_at"),
        # The sweep's question (scheduled tasks past their time, every shop at once).
        sa.Index(
            "ix_checkins_scheduled_due",
            "due_at",
            sqlite_where=sa.text("status = 'scheduled'"),
            postgresql_where=sa.text("status = 'scheduled'"),
        ),
        sa.Index("ix_checkins_rep_status_due", "rep_id", "status", "due_at"),
        # A customer's tasks (open one, last call, those that follow them to a new rep): asked on every
        # delivery event, so never a scan of the shop's table (migration 0010).
        sa.Index("ix_checkins_customer_status", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    rep_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reps.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(16), default="post_purchase", server_default="post_purchase")
    status: Mapped[str] = mapped_column(sa.String(16), default=CheckInStatus.SCHEDULED)
    delivered_at: Mapped[dt.datetime | None]  # the (first) delivery the call is about
    # Not seen delivered: shipped (or marked fulfilled) plus the shop's transit days. A real delivery
    # reported later moves a task that is still scheduled.
    delivery_estimated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    due_at: Mapped[dt.datetime]  # UTC
    # No slot inside both the customer's window and the rep's hours within 7 days: due in the rep's next
    # working hour instead, and shown so.
    outside_window: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    note: Mapped[str | None] = mapped_column(sa.Text)  # a follow-up's reason
    closed_at: Mapped[dt.datetime | None]
    close_reason: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CheckInOrder(Base):
    """The orders one check-in covers (a second delivery before the call joins the first's task)."""

    __tablename__ = "checkin_orders"
    __table_args__ = (sa.UniqueConstraint("order_id", name="uq_checkin_orders_order"),)

    checkin_id: Mapped[int] = mapped_column(sa.ForeignKey("checkins.id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)


class CheckInAttempt(Base):
    """One call made: its outcome and what the customer said."""

    __tablename__ = "checkin_attempts"
    __table_args__ = (sa.Index("ix_checkin_attempts_checkin", "checkin_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    checkin_id: Mapped[int] = mapped_column(sa.ForeignKey("checkins.id", ondelete="CASCADE"))
    rep_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reps.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # reached / voicemail / no_answer / wrong_number / declined
    outcome: Mapped[str] = mapped_column(sa.String(16))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    recommend: Mapped[int | None]  # 0-10
    improve: Mapped[str | None] = mapped_column(sa.Text)
    improve_product_id: Mapped[str | None] = mapped_column(sa.String(64))
    do_not_call: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

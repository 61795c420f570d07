"""Ops accounts: creating, listing and deleting them, and checking a password (Argon2id, argon2-cffi)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from integration.core.db import rows_changed, utcnow
from integration.ops.models import OpsUser

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # Argon2 takes any length; a bound keeps one sign-in from costing a megabyte of hashing

_hasher = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile
# Checked against when the address is unknown, so an unknown address costs what a wrong password does
# (the answer's timing does not tell which addresses have accounts).
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class AccountError(ValueError):
    """An address or password that cannot make an account, in words for the command line."""


@dataclass(frozen=True)
class OpsAccount:
    id: int
    email: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_new(email: str, password: str) -> str:
    email = normalise_email(email)
    if not EMAIL_RE.fullmatch(email) or len(email) > 320:
        raise AccountError("not an email address")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters")
    return email


def create_user(db: Session, email: str, password: str) -> OpsAccount:
    email = check_new(email, password)
    if db.scalar(sa.select(OpsUser.id).where(OpsUser.email == email)) is not None:
        raise AccountError("an ops user with this address exists already")
    user = OpsUser(email=email, password_hash=_hasher.hash(password))
    db.add(user)
    db.flush()
    return OpsAccount(user.id, user.email)


def list_users(db: Session) -> list[OpsUser]:
    return list(db.scalars(sa.select(OpsUser).order_by(OpsUser.email)))


def delete_user(db: Session, email: str) -> bool:
    return rows_changed(db.execute(sa.delete(OpsUser).where(OpsUser.email == normalise_email(email)))) > 0


def authenticate(db: Session, email: str, password: str) -> OpsAccount | None:
    """The account whose password this is, or None (unknown address and wrong password alike)."""
    if len(password) > MAX_PASSWORD:
        return None
    user = db.scalar(sa.select(OpsUser).where(OpsUser.email == normalise_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)  # parameters raised since: upgraded on the way in
    user.last_sign_in_at = utcnow()
    return OpsAccount(user.id, user.email)


def account(db: Session, user_id: int) -> OpsAccount | None:
    user = db.get(OpsUser, user_id)
    return OpsAccount(user.id, user.email) if user else None

"""``keys``: the Fernet keys that encrypt platform tokens and webhook secrets at rest.

Rotating a key (README, "Running in production"): prepend a new key to ``TOKEN_ENCRYPTION_KEY``
(``keys generate`` makes one), deploy, run ``keys rotate`` (every stored secret re-encrypted with the
new key), check that ``keys check`` reports nothing left on an older key, then drop the old key.

Secrets are re-encrypted one shop row per short transaction, and a row is only written if its
ciphertext is still what was read (a token refreshed meanwhile is left to the next run), so an
interruption or a failure at any point leaves every row readable by the configured keys. Nothing here
ever prints a secret: only counts, shop ids and column names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import click
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from flask.cli import AppGroup
from redis.exceptions import LockError

from integration import runtime_of
from integration.core.crypto import SecretUnreadable, TokenCipher
from integration.core.runtime import Runtime
from integration.shops.models import Shop

# Every column of ``shops`` that holds Fernet ciphertext.
SECRET_COLUMNS: tuple[str, ...] = ("access_token_enc", "refresh_token_enc", "webhook_token_enc")
BATCH_SIZE = 200  # shop ids read per query
ATTEMPTS = 3  # tries per row when its secret changes under us (a token refresh)
# integration.shops.tokens refreshes a shop's token holding this Redis lock; a row is rotated holding it.
REFRESH_LOCK = "shop-token-refresh:{shop_id}"
LOCK_TTL = 60
LOCK_WAIT = 30


@dataclass
class KeyReport:
    shops: int = 0  # shops holding at least one secret
    secrets: int = 0
    current: int = 0  # readable with the newest key
    older: int = 0  # readable only with an older key
    rotated: int = 0  # re-encrypted with the newest key by this run
    changed: int = 0  # rewritten by someone else while we rotated (already newest, or next run)
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (shop id, column)
    busy: list[int] = field(default_factory=list)  # shops skipped: a token refresh held them too long


class _Newest:
    """Tells whether a ciphertext is already encrypted with the first (newest) configured key."""

    def __init__(self, keys: str) -> None:
        first = next(k.strip() for k in keys.split(",") if k.strip())
        self._fernet = Fernet(first.encode())

    def reads(self, ciphertext: str) -> bool:
        try:
            self._fernet.decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True


def _any_secret() -> sa.ColumnElement[bool]:
    return sa.or_(*(getattr(Shop, name).is_not(None) for name in SECRET_COLUMNS))


def shop_ids_with_secrets(runtime: Runtime, batch_size: int = BATCH_SIZE) -> Iterator[list[int]]:
    """Ids of every shop, installed or not, holding any secret, in batches (keyset pagination)."""
    after = 0
    while True:
        with runtime.session() as session:
            batch = list(
                session.scalars(
                    sa.select(Shop.id).where(Shop.id > after, _any_secret()).order_by(Shop.id).limit(batch_size)
                )
            )
        if not batch:
            return
        yield batch
        after = batch[-1]


def _secrets_of(runtime: Runtime, shop_id: int) -> dict[str, str]:
    with runtime.session() as session:
        row = session.execute(
            sa.select(*(getattr(Shop, name) for name in SECRET_COLUMNS)).where(Shop.id == shop_id)
        ).one_or_none()
    if row is None:
        return {}
    return {name: value for name, value in zip(SECRET_COLUMNS, row, strict=True) if value}


def check_keys(runtime: Runtime, *, batch_size: int = BATCH_SIZE) -> KeyReport:
    """Read every stored secret (nothing is written)."""
    cipher, newest = runtime.cipher, _Newest(runtime.settings.token_encryption_key)
    report = KeyReport()
    for batch in shop_ids_with_secrets(runtime, batch_size):
        for shop_id in batch:
            stored = _secrets_of(runtime, shop_id)
            report.shops += bool(stored)
            for name, ciphertext in stored.items():
                report.secrets += 1
                if newest.reads(ciphertext):
                    report.current += 1
                    continue
                try:
                    cipher.decrypt(ciphertext)
                except SecretUnreadable:
                    report.unreadable.append((shop_id, name))
                else:
                    report.older += 1
    return report


def rotate_keys(runtime: Runtime, *, batch_size: int = BATCH_SIZE) -> KeyReport:
    """Re-encrypt with the newest key every secret not already encrypted with it, one row per
    transaction; secrets no configured key reads are left untouched and listed."""
    cipher, newest = runtime.cipher, _Newest(runtime.settings.token_encryption_key)
    report = KeyReport()
    for batch in shop_ids_with_secrets(runtime, batch_size):
        for shop_id in batch:
            with _refresh_lock(runtime, shop_id) as held:
                if held:
                    _rotate_row(runtime, cipher, newest, shop_id, report)
                else:
                    report.busy.append(shop_id)
    return report


@contextmanager
def _refresh_lock(runtime: Runtime, shop_id: int) -> Iterator[bool]:
    """The lock a Shopify token refresh holds (integration.shops.tokens): a refresh compares the stored
    refresh token's ciphertext before storing the new pair, so re-encrypting it mid-refresh would make
    the refresher drop a pair Shopify has already issued (and spent the old refresh token for)."""
    lock = runtime.redis.lock(REFRESH_LOCK.format(shop_id=shop_id), timeout=LOCK_TTL, blocking_timeout=LOCK_WAIT)
    held = bool(lock.acquire())
    try:
        yield held
    finally:
        if held:
            with suppress(LockError):
                lock.release()


def _rotate_row(runtime: Runtime, cipher: TokenCipher, newest: _Newest, shop_id: int, report: KeyReport) -> None:
    for attempt in range(ATTEMPTS):
        stored = _secrets_of(runtime, shop_id)
        stale = {name: value for name, value in stored.items() if not newest.reads(value)}
        fresh: dict[str, str] = {}
        unreadable: list[str] = []
        for name, value in stale.items():
            try:
                fresh[name] = cipher.rotate(value)
            except SecretUnreadable:
                unreadable.append(name)
        if fresh:
            with runtime.session() as session:
                # Compare-and-set: written only if no secret of this row changed since it was read.
                result = session.execute(
                    sa.update(Shop)
                    .where(Shop.id == shop_id, *(getattr(Shop, name) == stale[name] for name in fresh))
                    .values(**fresh)
                )
            if not result.rowcount:  # type: ignore[attr-defined]
                if attempt + 1 < ATTEMPTS:
                    continue  # a token was refreshed meanwhile: read the row again
                report.changed += len(fresh)
                fresh = {}
        report.shops += bool(stored)
        report.secrets += len(stored)
        report.current += len(stored) - len(stale)
        report.rotated += len(fresh)
        report.unreadable.extend((shop_id, name) for name in unreadable)
        return


# ------------------------------------------------------------------------------------------ commands


@click.group(cls=AppGroup)
def keys() -> None:
    """Encryption keys of the stored tokens and webhook secrets (TOKEN_ENCRYPTION_KEY)."""


@keys.command("generate")
def generate() -> None:
    """Print a new Fernet key, to put in front of TOKEN_ENCRYPTION_KEY (nothing is stored)."""
    click.echo(Fernet.generate_key().decode())


@keys.command("check")
def check() -> None:
    """Read every stored secret; exit 1 naming the shops whose secrets no configured key reads."""
    runtime = runtime_of(current_app)
    report = check_keys(runtime)
    click.echo(
        f"{report.secrets} secret(s) on {report.shops} shop(s): {report.current} on the newest key, "
        f"{report.older} on an older key, {len(report.unreadable)} unreadable"
    )
    if report.older:
        click.echo("run `keys rotate` before dropping an older key")
    elif not report.unreadable and "," in runtime.settings.token_encryption_key.strip(", "):
        click.echo("every secret is on the newest key: the older keys can be dropped")
    _fail_on_unreadable(report)


@keys.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret (all shops, uninstalled ones too) with the newest key.

    Needs Redis (a shop being rotated must not be mid token refresh). Safe to interrupt and to run
    again. Exits 1 naming the shops whose secrets no configured key reads (was a key dropped too
    early?); every other secret is rotated all the same.
    """
    report = rotate_keys(runtime_of(current_app))
    click.echo(
        f"{report.secrets} secret(s) on {report.shops} shop(s): {report.rotated} re-encrypted with the newest key, "
        f"{report.current} already on it, {len(report.unreadable)} unreadable"
    )
    if report.changed:
        click.echo(f"{report.changed} secret(s) changed while rotating: run `keys rotate` again")
    if report.busy:
        click.echo(
            f"{len(report.busy)} shop(s) skipped, a token refresh held them: run `keys rotate` again "
            f"(shop ids {', '.join(map(str, report.busy))})"
        )
    _fail_on_unreadable(report)


def _fail_on_unreadable(report: KeyReport) -> None:
    if not report.unreadable:
        return
    for shop_id, name in report.unreadable:
        click.echo(f"shop {shop_id}: {name} cannot be read with any configured key", err=True)
    click.echo(
        "error: secrets no configured key can read (a key dropped too early?): put that key back in "
        "TOKEN_ENCRYPTION_KEY, or reinstall those shops",
        err=True,
    )
    raise SystemExit(1)

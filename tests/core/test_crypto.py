"""Tokens at rest: Fernet ciphertext, readable with any configured key, rotated onto the newest."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from integration.core.config import ConfigError
from integration.core.crypto import SecretUnreadable, TokenCipher


def key() -> str:
    return Fernet.generate_key().decode()


def test_round_trip_and_no_plaintext() -> None:
    cipher = TokenCipher(key())
    stored = cipher.encrypt("shpat_abc123")
    assert "shpat_abc123" not in stored
    assert cipher.decrypt(stored) == "shpat_abc123"
    assert cipher.encrypt("shpat_abc123") != stored  # a fresh IV each time


def test_old_key_still_reads_and_rotate_moves_to_the_new_key() -> None:
    old, new = key(), key()
    stored = TokenCipher(old).encrypt("token")
    both = TokenCipher(f"{new}, {old}")
    assert both.decrypt(stored) == "token"
    rotated = both.rotate(stored)
    assert TokenCipher(new).decrypt(rotated) == "token"
    with pytest.raises(SecretUnreadable):
        TokenCipher(old).decrypt(rotated)


def test_a_dropped_key_is_a_clear_error_without_the_secret() -> None:
    stored = TokenCipher(key()).encrypt("token")
    with pytest.raises(SecretUnreadable) as caught:
        TokenCipher(key()).decrypt(stored)
    assert "token" not in str(caught.value).replace("secret", "")


@pytest.mark.parametrize("bad", ["", " , ", "not-a-fernet-key"])
def test_bad_keys_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TokenCipher(bad)
    assert "not-a-fernet-key" not in str(caught.value)


def test_repr_hides_keys() -> None:
    secret = key()
    assert secret not in repr(TokenCipher(secret))

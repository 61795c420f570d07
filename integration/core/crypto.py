"""Platform tokens and webhook secrets encrypted at rest (Fernet, with MultiFernet for key rotation).

``TOKEN_ENCRYPTION_KEY`` holds one or more Fernet keys, comma-separated, newest first. Everything is
encrypted with the first key and decrypted with whichever key made it, so rotating a key is: put a new
key in front, deploy, run ``flask --app integration keys rotate`` (re-encrypts every stored secret with
the new key), then drop the old key. Plaintext never leaves this module except to the caller that asked.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from integration.core.config import ConfigError


class SecretUnreadable(Exception):
    """A stored secret none of the configured keys can read (a key was dropped too early)."""


class TokenCipher:
    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ConfigError("TOKEN_ENCRYPTION_KEY holds no key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except ValueError:
            # Never echo the value: it is a secret even when malformed.
            raise ConfigError(
                "TOKEN_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated"
            ) from None

    def __repr__(self) -> str:
        return "TokenCipher(...)"

    def encrypt(self, plaintext: str) -> str:
        return str(self._fernet.encrypt(plaintext.encode()).decode())

    def decrypt(self, ciphertext: str) -> str:
        try:
            return str(self._fernet.decrypt(ciphertext.encode()).decode())
        except InvalidToken:
            raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from None

    def rotate(self, ciphertext: str) -> str:
        """The same secret encrypted with the first (newest) key."""
        try:
            return str(self._fernet.rotate(ciphertext.encode()).decode())
        except InvalidToken:
            raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from None

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return self.encrypt(plaintext) if plaintext else None

    def decrypt_optional(self, ciphertext: str | None) -> str | None:
        return self.decrypt(ciphertext) if ciphertext else None

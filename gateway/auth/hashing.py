"""Key material: new keys, and the digests keys are stored and looked up by (never the key itself)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "tk-"


def new_key() -> str:
    """A new virtual key: `tk-` and 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def sha256_hex(key: str) -> str:
    """The digest static keys are declared by: `printf %s "$KEY" | sha256sum`."""
    return hashlib.sha256(key.encode()).hexdigest()


def hint(key: str) -> str:
    """What a listing shows of a key: its first characters and last four."""
    return f"{key[:6]}...{key[-4:]}"


class KeyHasher:
    """HMAC-SHA256 with a pepper from the environment (plain SHA-256 without one) for keys in Redis,
    so a dump of Redis alone does not allow checking guesses offline."""

    def __init__(self, pepper: str | None) -> None:
        self._pepper = pepper.encode() if pepper else None

    @property
    def peppered(self) -> bool:
        return self._pepper is not None

    def digest(self, key: str) -> str:
        if self._pepper is None:
            return sha256_hex(key)
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).hexdigest()

"""Keys created, listed, rotated and revoked through the admin API (behind the master key).

A new or rotated key is returned once, in clear, to the admin; Redis keeps only its peppered digest.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from gateway.auth.hashing import hint, new_key
from gateway.auth.policy import KeyGrant
from gateway.auth.records import KeyRecord
from gateway.auth.store import KeyStore
from router.errors import TurnoutError

log = logging.getLogger("turnout.auth")


class KeyNotFound(TurnoutError):
    status = 404
    type = "invalid_request_error"
    code = "key_not_found"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    record: KeyRecord
    secret: str
    """The key itself: shown once, never stored."""

    def public(self) -> dict[str, object]:
        return {**self.record.public(), "key": self.secret}


class KeyAdmin:
    def __init__(self, *, store: KeyStore) -> None:
        if store.records is None:
            raise ValueError("the key admin needs Redis")
        self._store = store
        self._records = store.records

    async def create(self, grant: KeyGrant, *, name: str = "") -> IssuedKey:
        key_id = "key_" + secrets.token_hex(8)
        secret = new_key()
        record = KeyRecord(id=key_id, name=name, grant=grant, hint=hint(secret), created_at=time.time())
        await self._records.put(record, self._store.hasher.digest(secret))
        log.info("key %s created for tenant %s", key_id, grant.tenant)
        return IssuedKey(record=record, secret=secret)

    async def list(self, *, tenant: str | None = None) -> list[KeyRecord]:
        records = await self._records.all()
        return [r for r in records if tenant is None or r.grant.tenant == tenant]

    async def rotate(self, key_id: str) -> IssuedKey:
        """A new secret for the same key id and grant; the old secret stops working at once."""
        found = await self._records.get(key_id)
        if found is None:
            raise KeyNotFound(f"no key {key_id!r}")
        old, old_digest = found
        secret = new_key()
        record = KeyRecord(id=old.id, name=old.name, grant=old.grant, hint=hint(secret),
                           created_at=old.created_at, rotated_at=time.time())
        await self._records.put(record, self._store.hasher.digest(secret), replaces=old_digest)
        self._store.forget(old_digest)
        log.info("key %s rotated (tenant %s)", key_id, old.grant.tenant)
        return IssuedKey(record=record, secret=secret)

    async def revoke(self, key_id: str) -> None:
        found = await self._records.get(key_id)
        if found is None or not await self._records.delete(key_id):
            raise KeyNotFound(f"no key {key_id!r}")
        self._store.forget(found[1])
        log.info("key %s revoked (tenant %s)", key_id, found[0].grant.tenant)

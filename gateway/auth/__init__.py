"""Virtual API keys and tenants: `KeyStore.authenticate(bearer)` -> `Principal`; the admin API in
`gateway.auth.handlers` (create, list, rotate, revoke keys; spend report) behind the master key."""

from gateway.auth.admin import IssuedKey, KeyAdmin, KeyNotFound
from gateway.auth.hashing import KeyHasher, new_key, sha256_hex
from gateway.auth.policy import AuthPolicy, KeyGrant, StaticKey, TenantPolicy
from gateway.auth.principal import Principal
from gateway.auth.records import KeyRecord, RedisKeyRecords
from gateway.auth.store import KeyStore, bearer_token

__all__ = ["AuthPolicy", "IssuedKey", "KeyAdmin", "KeyGrant", "KeyHasher", "KeyNotFound", "KeyRecord", "KeyStore",
           "Principal", "RedisKeyRecords", "StaticKey", "TenantPolicy", "bearer_token", "new_key", "sha256_hex"]

"""Who is calling: `KeyStore.authenticate(bearer)` -> `Principal`.

Static keys come from the policy; keys created through the admin API live in Redis and are cached
per replica for at most `cache_ttl_seconds` (<= 1 s), so a revocation reaches every replica within a
second. Neither keys nor their digests are ever logged or put in an error message.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping

from redis.asyncio import Redis

from gateway.auth.hashing import KeyHasher, sha256_hex
from gateway.auth.policy import AuthPolicy
from gateway.auth.principal import Principal
from gateway.auth.records import RedisKeyRecords
from gateway.errors import AuthenticationError, PermissionDenied, StoreUnavailable
from gateway.redisconn import RedisUnavailable

log = logging.getLogger("turnout.auth")

_CACHE_MAX = 10_000


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class KeyStore:
    def __init__(self, *, policy: AuthPolicy, environ: Mapping[str, str], redis: Redis | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._master = environ.get(policy.master_key_env) or None
        self.hasher = KeyHasher(environ.get(policy.pepper_env) or None)
        self.records = RedisKeyRecords(redis=redis, prefix=policy.redis_prefix) if redis is not None else None
        self._static: dict[str, Principal] = {}
        for key in policy.keys:
            digest = key.key_sha256
            if key.key_env is not None:
                value = environ.get(key.key_env, "")
                if not value:
                    log.warning("key %s is disabled: environment variable %s is not set", key.id, key.key_env)
                    continue
                digest = sha256_hex(value)
            assert digest is not None
            self._static[digest] = Principal.of(key.id, key, policy.tenant(key.tenant))
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    @property
    def open_mode(self) -> bool:
        """No key in the policy and no master key: every caller is the anonymous principal."""
        return not self._policy.keys and self._master is None

    @property
    def master_key_set(self) -> bool:
        return self._master is not None

    def is_master(self, bearer: str | None) -> bool:
        if not bearer or self._master is None:
            return False
        return hmac.compare_digest(bearer.encode(), self._master.encode())

    def anonymous(self) -> Principal:
        return Principal(tenant="default", key_id="anonymous", key_limits=self._policy.open_limits,
                         anonymous=True)

    async def authenticate(self, bearer: str | None) -> Principal:
        """The principal of a bearer token. Raises `AuthenticationError` (401) for a missing or unknown
        key, `PermissionDenied` (403) for the master key, `StoreUnavailable` (503) if Redis is down."""
        if self.open_mode:
            return self.anonymous()
        if not bearer:
            raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
        if self.is_master(bearer):
            raise PermissionDenied("the master key is for the /admin endpoints; create a virtual key to call models")
        principal = self._static.get(sha256_hex(bearer))
        if principal is None and self.records is not None:
            principal = await self._dynamic(self.hasher.digest(bearer))
        if principal is None:
            raise AuthenticationError("invalid API key")
        return principal

    async def _dynamic(self, digest: str) -> Principal | None:
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        assert self.records is not None
        try:
            record = await self.records.by_digest(digest)
        except RedisUnavailable:
            log.warning("key lookup failed: Redis unreachable")
            raise StoreUnavailable("API keys cannot be checked right now; try again shortly") from None
        principal = None
        if record is not None:
            principal = Principal.of(record.id, record.grant, self._policy.tenant(record.grant.tenant))
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[digest] = (now + self._policy.cache_ttl_seconds, principal)
        return principal

    def forget(self, digest: str) -> None:
        """Drop a cached key at once on this replica (others see the change within the TTL)."""
        self._cache.pop(digest, None)

    def require_master(self, bearer: str | None) -> None:
        """Guard of the admin API: 401 without a key, 403 with any key but the master key."""
        if self._master is None:
            raise PermissionDenied(
                f"the admin API is disabled: set {self._policy.master_key_env} to enable it")
        if not bearer:
            raise AuthenticationError("missing master key: send 'Authorization: Bearer <master key>'")
        if not self.is_master(bearer):
            raise PermissionDenied("admin endpoints need the master key")

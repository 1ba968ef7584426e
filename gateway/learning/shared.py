"""What replicas share besides outcome rows: each tenant's feedback flood limit and each route's daily
shadow budget. Through Redis when the gateway has one (one window, one budget across every replica),
in-process otherwise. Redis errors become `LearningStoreError` here; the learner then falls back to its
own in-process limit and budget for that call and counts the failure (`op="flood"` / `op="budget"`).

    flood    {prefix}:fbrate:{tenant}             the limits' sliding window (1-second buckets, 60 s)
    budget   {prefix}:shadow_usd:{alias}:{day}    INCRBYFLOAT, kept two days
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from gateway.learning.feedback import FloodLimit
from gateway.learning.store import LearningStoreError
from gateway.limits.ratelimit import Quota, RateLimiter
from gateway.redisconn import RedisUnavailable
from router.errors import RateLimited

if TYPE_CHECKING:
    from redis.asyncio import Redis

_BUDGET_TTL_S = 2 * 86_400


def flood_error(per_minute: int, retry_after: float | None) -> RateLimited:
    return RateLimited(f"more than {per_minute} feedback calls a minute for this tenant", retry_after=retry_after,
                       code="feedback_rate_limited")


class FloodGate(Protocol):
    async def check(self, tenant: str, per_minute: int) -> None:
        """Count one feedback call of `tenant`; past `per_minute` in a minute, raise `RateLimited`."""
        ...


class SpendTally(Protocol):
    async def add(self, key: str, usd: float) -> float:
        """Add `usd` to the spend kept under `key` (a route and a day) and return the total; 0 reads it."""
        ...


class MemoryFlood:
    """One replica's token bucket per tenant (see `FloodLimit`)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = FloodLimit(1, clock=clock)

    async def check(self, tenant: str, per_minute: int) -> None:
        self._limit.per_minute = per_minute
        self._limit.check(tenant)


class RedisFlood:
    """One sliding window per tenant for every replica: the Lua script of the request limits."""

    def __init__(self, *, client: Redis, prefix: str) -> None:
        self._limiter = RateLimiter(redis=client, window_seconds=60)
        self._prefix = prefix

    async def check(self, tenant: str, per_minute: int) -> None:
        try:
            decision = await self._limiter.check([Quota(f"{self._prefix}:fbrate:{tenant}", "requests", per_minute, 1)])
        except RedisUnavailable as exc:
            raise LearningStoreError(str(exc)) from exc
        if not decision.allowed:
            raise flood_error(per_minute, decision.retry_after)


class MemoryTally:
    """One replica's spend per key; keys of other days are dropped as the day turns."""

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}

    async def add(self, key: str, usd: float) -> float:
        day = key.rsplit(":", 1)[-1]
        if any(not k.endswith(day) for k in self._spent):
            self._spent = {k: v for k, v in self._spent.items() if k.endswith(day)}
        total = self._spent[key] = self._spent.get(key, 0.0) + usd
        return total


class RedisTally:
    """One spend per key for every replica."""

    def __init__(self, *, client: Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    async def add(self, key: str, usd: float) -> float:
        name = f"{self._prefix}:shadow_usd:{key}"
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.incrbyfloat(name, usd)
            pipe.expire(name, _BUDGET_TTL_S)
            total, _ = await pipe.execute()
        except RedisUnavailable as exc:
            raise LearningStoreError(str(exc)) from exc
        return float(total)

"""Spend in USD per key and per tenant, per UTC day and month, kept in Redis hashes.

    {prefix}:spend:d:2026-11-28   t:<tenant> -> usd, k:<tenant>:<key id> -> usd
    {prefix}:spend:m:2026-11      the same per month
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from gateway.limits.subject import Subject

_DAY_TTL = 3 * 86400
_MONTH_TTL = 62 * 86400


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Spent:
    key_day: float
    key_month: float
    tenant_day: float
    tenant_month: float


def seconds_to_next_day(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def seconds_to_next_month(now: datetime) -> float:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return (following - now).total_seconds()


class SpendLedger:
    def __init__(self, *, redis: Redis, prefix: str = "turnout", clock: Callable[[], datetime] = utc_now) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock

    def _keys(self) -> tuple[str, str, datetime]:
        now = self._clock()
        return (f"{self._prefix}:spend:d:{now:%Y-%m-%d}", f"{self._prefix}:spend:m:{now:%Y-%m}", now)

    async def add(self, subject: Subject, usd: float) -> None:
        """Add `usd` (negative: hand back what a reservation over-estimated)."""
        if usd == 0:
            return
        day, month, _ = self._keys()
        fields = (f"t:{subject.tenant}", f"k:{subject.tenant}:{subject.key_id}")
        async with self._redis.pipeline(transaction=True) as pipe:
            for name in fields:
                pipe.hincrbyfloat(day, name, usd)
                pipe.hincrbyfloat(month, name, usd)
            pipe.expire(day, _DAY_TTL)
            pipe.expire(month, _MONTH_TTL)
            await pipe.execute()

    async def reserve(self, subject: Subject, usd: float) -> Spent:
        """Add `usd` now (one request's estimated cost) and return the spend before it: concurrent
        requests each see the reservations of those admitted before them (HINCRBYFLOAT is atomic)."""
        if usd <= 0:
            return await self.spent(subject)
        day, month, _ = self._keys()
        key, tenant = f"k:{subject.tenant}:{subject.key_id}", f"t:{subject.tenant}"
        async with self._redis.pipeline(transaction=True) as pipe:
            for name in (key, tenant):
                pipe.hincrbyfloat(day, name, usd)
                pipe.hincrbyfloat(month, name, usd)
            pipe.expire(day, _DAY_TTL)
            pipe.expire(month, _MONTH_TTL)
            kd, km, td, tm, *_ = await pipe.execute()
        return Spent(key_day=float(kd) - usd, key_month=float(km) - usd, tenant_day=float(td) - usd,
                     tenant_month=float(tm) - usd)

    async def spent(self, subject: Subject) -> Spent:
        day, month, _ = self._keys()
        fields = [f"k:{subject.tenant}:{subject.key_id}", f"t:{subject.tenant}"]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(day, fields)
            pipe.hmget(month, fields)
            (kd, td), (km, tm) = await pipe.execute()
        return Spent(key_day=float(kd or 0), key_month=float(km or 0), tenant_day=float(td or 0),
                     tenant_month=float(tm or 0))

    async def report(self, *, tenant: str | None = None) -> dict[str, Any]:
        """Spend today and this month per tenant and key; only `tenant` when given."""
        day, month, now = self._keys()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(day)
            pipe.hgetall(month)
            by_day, by_month = await pipe.execute()
        tenants: dict[str, dict[str, Any]] = {}
        for period, values in (("day_usd", by_day), ("month_usd", by_month)):
            for raw_name, raw_usd in values.items():
                name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
                kind, _, rest = name.partition(":")
                owner, _, key_id = rest.partition(":")
                if tenant is not None and owner != tenant:
                    continue
                entry = tenants.setdefault(owner, {"day_usd": 0.0, "month_usd": 0.0, "keys": {}})
                target = entry if kind == "t" else entry["keys"].setdefault(key_id, {"day_usd": 0.0,
                                                                                     "month_usd": 0.0})
                target[period] = round(float(raw_usd), 9)
        return {"day": f"{now:%Y-%m-%d}", "month": f"{now:%Y-%m}", "tenants": tenants}

"""Requests and tokens per minute, shared by every replica through Redis.

A sliding window of one-second buckets per scope (a Redis hash: second -> count). One Lua script
checks every scope of a request (key and tenant, requests and tokens) against the Redis clock and
admits all or none, in one round trip: two replicas can never admit more than the limit between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from gateway.redisbatch import CommandBatch

_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end  -- Redis < 5: allow writes after TIME
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local sec = math.floor(now)
local window = tonumber(ARGV[1])
local oldest = sec - window + 1
local ok, retry = 1, 0
local used, reset = {}, {}
for i = 1, #KEYS do
  local limit, cost = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local flat = redis.call('HGETALL', KEYS[i])
  local total, buckets, first = 0, {}, nil
  for j = 1, #flat, 2 do
    local b = tonumber(flat[j])
    if b < oldest then
      redis.call('HDEL', KEYS[i], flat[j])
    else
      local c = tonumber(flat[j + 1])
      total = total + c
      buckets[#buckets + 1] = {b, c}
      if first == nil or b < first then first = b end
    end
  end
  used[i] = total
  reset[i] = first and (first + window - now) or 0
  if limit >= 0 and (total + cost > limit or (cost == 0 and total >= limit)) then
    ok = 0
    table.sort(buckets, function(x, y) return x[1] < y[1] end)
    local need, freed, wait = math.max(total + cost - limit, 1), 0, window
    if cost <= limit then
      for _, bc in ipairs(buckets) do
        freed = freed + bc[2]
        if freed >= need then wait = bc[1] + window - now break end
      end
    end
    if wait > retry then retry = wait end
  end
end
if ok == 1 then
  for i = 1, #KEYS do
    local cost = tonumber(ARGV[2 * i + 1])
    if cost ~= 0 then
      redis.call('HINCRBY', KEYS[i], sec, cost)
      redis.call('EXPIRE', KEYS[i], window + 1)
      used[i] = used[i] + cost
      if reset[i] == 0 then reset[i] = sec + window - now end
    end
  end
end
local out = {ok, tostring(retry)}
for i = 1, #KEYS do
  out[#out + 1] = used[i]
  out[#out + 1] = tostring(reset[i])
end
return out
"""


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit of one subject: `name` is `requests` or `tokens` (the header suffix)."""

    key: str
    name: str
    limit: int | None
    cost: int


@dataclass(frozen=True, slots=True)
class QuotaState:
    name: str
    limit: int
    used: int
    reset_seconds: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one admission: allowed or not, when to retry, and the `x-ratelimit-*` values."""

    allowed: bool
    retry_after: float | None = None
    quotas: tuple[QuotaState, ...] = field(default_factory=tuple)

    def headers(self) -> dict[str, str]:
        """OpenAI's headers, for the tightest quota of each name (requests, tokens)."""
        tightest: dict[str, QuotaState] = {}
        for q in self.quotas:
            best = tightest.get(q.name)
            if best is None or q.remaining < best.remaining:
                tightest[q.name] = q
        out: dict[str, str] = {}
        for name, q in sorted(tightest.items()):
            out[f"x-ratelimit-limit-{name}"] = str(q.limit)
            out[f"x-ratelimit-remaining-{name}"] = str(q.remaining)
            out[f"x-ratelimit-reset-{name}"] = f"{max(0.0, q.reset_seconds):.3f}s"
        if self.retry_after is not None:
            out["retry-after"] = str(max(1, math.ceil(self.retry_after)))
        return out


class RateLimiter:
    """Sliding-window limits in Redis. `check` admits all quotas or none; a `None` limit is not checked."""

    def __init__(self, *, redis: Redis, window_seconds: int = 60, batch: CommandBatch | None = None) -> None:
        """`batch`: share one with the other Redis users of the request path (one round trip for all)."""
        self._batch = batch if batch is not None else CommandBatch(redis)
        self._window = window_seconds
        self._sha = redis.register_script(_SCRIPT).sha

    async def _run(self, keys: list[str], args: list[Any]) -> Any:
        return await self._batch.script(self._sha, _SCRIPT, keys, args)

    async def check(self, quotas: list[Quota]) -> RateDecision:
        """Admit (and count) every quota's cost, or none of them. Raises Redis errors to the caller."""
        active = [q for q in quotas if q.limit is not None]
        if not active:
            return RateDecision(allowed=True)
        args: list[Any] = [self._window]
        for q in active:
            args += [q.limit, q.cost]
        raw = await self._run([q.key for q in active], args)
        states = tuple(
            QuotaState(name=q.name, limit=int(q.limit or 0), used=int(raw[2 + 2 * i]),
                       reset_seconds=float(raw[3 + 2 * i]))
            for i, q in enumerate(active))
        allowed = int(raw[0]) == 1
        return RateDecision(allowed=allowed, retry_after=None if allowed else float(raw[1]), quotas=states)

    async def add(self, quotas: list[Quota]) -> None:
        """Count usage known only afterwards (tokens of an answer; negative returns a reservation), unchecked."""
        counted = [q for q in quotas if q.limit is not None and q.cost != 0]
        if counted:
            args: list[Any] = [self._window]
            for q in counted:
                args += [-1, q.cost]
            await self._run([q.key for q in counted], args)

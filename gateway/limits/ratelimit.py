"""Requests and tokens per minute, shared by every replica through Redis.

A sliding window of one-second buckets per scope (a Redis hash: second -> count, plus `n`, the sum
of the buckets kept, and `lo`, the oldest bucket kept). One Lua script checks every scope of a
request (key and tenant, requests and tokens) against the Redis clock and admits all or none, in one
round trip: two replicas can never admit more than the limit between them. A check reads the running
sum and drops only the buckets that left the window since the last one, so its cost does not grow
with the window (a refusal reads the window's buckets, in order, to say when to retry).
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
local used, reset, lows, changed = {}, {}, {}, {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local limit, cost = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local st = redis.call('HMGET', key, 'n', 'lo')
  local total, lo = tonumber(st[1]) or 0, tonumber(st[2])
  changed[i] = false
  if lo ~= nil and lo < oldest then
    -- drop the buckets that left the window: those in [lo, oldest - 1], usually none or one
    local gone = {}
    for b = lo, oldest - 1 do gone[#gone + 1] = b end
    local counts = redis.call('HMGET', key, unpack(gone))
    local dropped = {}
    for j = 1, #gone do
      if counts[j] then
        total = total - tonumber(counts[j])
        dropped[#dropped + 1] = gone[j]
      end
    end
    if #dropped > 0 then redis.call('HDEL', key, unpack(dropped)) end
    lo = oldest
    changed[i] = true
  end
  if lo ~= nil and redis.call('HEXISTS', key, lo) == 0 then
    -- the oldest bucket is empty: find the first one that is not (sparse traffic only)
    local span = {}
    for b = lo + 1, sec do span[#span + 1] = b end
    local first = nil
    if #span > 0 then
      local counts = redis.call('HMGET', key, unpack(span))
      for j = 1, #span do
        if counts[j] then first = span[j] break end
      end
    end
    lo = first
    if first == nil then total = 0 end
    changed[i] = true
  end
  used[i] = total
  lows[i] = lo
  reset[i] = lo and (lo + window - now) or 0
  if limit >= 0 and (total + cost > limit or (cost == 0 and total >= limit)) then
    ok = 0
    local need, freed, wait = math.max(total + cost - limit, 1), 0, window
    if cost <= limit and lo ~= nil then
      local span = {}
      for b = lo, sec do span[#span + 1] = b end
      local counts = redis.call('HMGET', key, unpack(span))
      for j = 1, #span do
        if counts[j] then
          freed = freed + tonumber(counts[j])
          if freed >= need then wait = span[j] + window - now break end
        end
      end
    end
    if wait > retry then retry = wait end
  end
end
for i = 1, #KEYS do
  local key = KEYS[i]
  local cost = tonumber(ARGV[2 * i + 1])
  if ok == 1 and cost ~= 0 then
    redis.call('HINCRBY', key, sec, cost)
    local lo = lows[i] or sec
    redis.call('HSET', key, 'n', used[i] + cost, 'lo', lo)
    redis.call('EXPIRE', key, window + 1)
    used[i] = used[i] + cost
    if reset[i] == 0 then reset[i] = lo + window - now end
  elseif changed[i] then
    if lows[i] == nil then
      redis.call('HDEL', key, 'n', 'lo')
    else
      redis.call('HSET', key, 'n', used[i], 'lo', lows[i])
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

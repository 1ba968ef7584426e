"""What the request path calls: `admit` before choosing a model, `settle` after the answer.

`admit` reserves the request's estimated cost against the budgets and checks them (a reservation is
atomic, so concurrent requests see each other's), then the rate limits (one atomic Redis call that
counts the request and reserves its estimated tokens). `settle` prices the usage and replaces both
reservations with what was used. Redis failures follow `on_redis_error` per limit type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from gateway.limits.failure import FailOpen, RedisErrorObserver, redis_guard
from gateway.limits.policy import Limits, LimitsPolicy
from gateway.limits.ratelimit import Quota, RateDecision, RateLimiter
from gateway.limits.spend import SpendLedger, Spent, seconds_to_next_day, seconds_to_next_month, utc_now
from gateway.limits.subject import Subject
from gateway.redisbatch import CommandBatch
from registry import ModelSpec, Tier
from router.errors import RateLimited

log = logging.getLogger("turnout.limits")


class RateLimitExceeded(RateLimited):
    """A 429 that also carries the `x-ratelimit-*` headers of the refusing decision."""

    def __init__(self, message: str, *, decision: RateDecision) -> None:
        super().__init__(message, retry_after=decision.retry_after)
        self.decision = decision

    def headers(self) -> dict[str, str]:
        return self.decision.headers()


@dataclass(frozen=True, slots=True)
class Admission:
    headers: dict[str, str]
    """`x-ratelimit-*` values to send with the answer."""
    max_tier: Tier | None = None
    """A cap on the tier because a budget is spent (policy `downgrade`); None: no cap."""
    reserved_tokens: int = 0
    reserved_usd: float = 0.0
    """The estimated cost reserved against the budgets (replaced by the real cost at `settle`)."""
    failed_open: tuple[str, ...] = ()
    """Limit types not enforced for this request because Redis was unreachable."""


def _has_budget(subject: Subject) -> bool:
    k, t = subject.key_limits, subject.tenant_limits
    return any(b is not None for b in (k.budget_usd_per_day, k.budget_usd_per_month, t.budget_usd_per_day,
                                       t.budget_usd_per_month))


def _exhausted(spent: Spent, key: Limits, tenant: Limits, now: datetime) -> tuple[str, float] | None:
    """The first spent budget and the seconds until it renews, or None."""
    checks = (("key daily", spent.key_day, key.budget_usd_per_day, seconds_to_next_day),
              ("key monthly", spent.key_month, key.budget_usd_per_month, seconds_to_next_month),
              ("tenant daily", spent.tenant_day, tenant.budget_usd_per_day, seconds_to_next_day),
              ("tenant monthly", spent.tenant_month, tenant.budget_usd_per_month, seconds_to_next_month))
    for name, used, budget, renews in checks:
        if budget is not None and used >= budget:
            return name, renews(now)
    return None


class LimitsService:
    def __init__(self, *, redis: Redis, policy: LimitsPolicy, prefix: str = "turnout",
                 observer: RedisErrorObserver | None = None, clock: Callable[[], datetime] = utc_now,
                 batch: CommandBatch | None = None) -> None:
        self._policy = policy
        self._prefix = prefix
        self._observer = observer
        self._clock = clock
        self._limiter = RateLimiter(redis=redis, window_seconds=policy.window_seconds, batch=batch)
        self.ledger = SpendLedger(redis=redis, prefix=prefix, clock=clock)

    def _quotas(self, subject: Subject, *, requests: int, tokens: int) -> list[Quota]:
        base = f"{self._prefix}:rl2"  # rl2: hashes with a running sum (`rl` held buckets only)
        k, t = subject.key_limits, subject.tenant_limits
        key_scope = f"{base}:k:{subject.tenant}:{subject.key_id}"
        tenant_scope = f"{base}:t:{subject.tenant}"
        return [Quota(f"{key_scope}:req", "requests", k.requests_per_minute, requests),
                Quota(f"{key_scope}:tok", "tokens", k.tokens_per_minute, tokens),
                Quota(f"{tenant_scope}:req", "requests", t.requests_per_minute, requests),
                Quota(f"{tenant_scope}:tok", "tokens", t.tokens_per_minute, tokens)]

    async def _budget_cap(self, subject: Subject, cost: float) -> Tier | None:
        k, t = subject.key_limits, subject.tenant_limits
        spent = await self.ledger.reserve(subject, cost)
        hit = _exhausted(spent, k, t, self._clock())
        if hit is None:
            return None
        name, renews = hit
        if self._policy.on_budget_exhausted != "downgrade":
            await self.ledger.add(subject, -cost)  # refused: nothing will be spent
        if self._policy.on_budget_exhausted == "downgrade":
            return self._policy.downgrade_to_tier
        raise RateLimited(f"the {name} budget is spent", retry_after=renews, code="insufficient_quota")

    async def admit(self, subject: Subject, *, tokens: int = 0, cost_usd: float = 0.0) -> Admission:
        """Admit one request that is expected to use `tokens` and cost `cost_usd` (both reserved now,
        corrected by `settle`).

        Raises `RateLimited` (429: `rate_limit_exceeded`, or `insufficient_quota` for a spent budget
        under policy `refuse`) or `StoreUnavailable` (503) when Redis fails and the policy is closed.
        """
        failed: list[str] = []
        cap: Tier | None = None
        fail = self._policy.on_redis_error
        reserved_usd = 0.0
        if _has_budget(subject):  # no budget: no Redis call, no latency sample
            try:
                with redis_guard("budgets", fail.budgets, self._observer):
                    cap = await self._budget_cap(subject, cost_usd)
                reserved_usd = cost_usd
            except FailOpen:
                failed.append("budgets")
        decision = RateDecision(allowed=True)
        caps = [lim for lim in (subject.key_limits.tokens_per_minute, subject.tenant_limits.tokens_per_minute)
                if lim is not None]
        tokens = min([tokens, *caps])  # a request larger than a whole minute's tokens waits for an empty window
        try:
            with redis_guard("rate limits", fail.rate_limits, self._observer):
                decision = await self._limiter.check(self._quotas(subject, requests=1, tokens=tokens))
        except FailOpen:
            failed.append("rate_limits")
        if not decision.allowed:
            await self.release(subject, reserved_usd)
            raise RateLimitExceeded("rate limit reached for this key or tenant", decision=decision)
        reserved = tokens if "rate_limits" not in failed else 0
        return Admission(headers=decision.headers(), max_tier=cap, reserved_tokens=reserved,
                         reserved_usd=reserved_usd, failed_open=tuple(failed))

    async def release(self, subject: Subject, usd: float) -> None:
        """Hand back a budget reservation of a request that was refused after admission."""
        if not usd:
            return
        try:
            with redis_guard("spend", "open", self._observer):
                await self.ledger.add(subject, -usd)
        except FailOpen:
            pass

    async def settle(self, subject: Subject, *, spec: ModelSpec | None, prompt_tokens: int, completion_tokens: int,
                     reserved_tokens: int = 0, reserved_usd: float = 0.0) -> float:
        """Add the answer's cost (USD, from registry prices; 0 without a model: failed, or served from
        the cache) to the spend in place of its reservation, and its tokens to the tokens-per-minute
        windows. Returns the cost. Never raises for Redis: the answer has been served."""
        cost = spec.price.cost(prompt_tokens, completion_tokens) if spec is not None else 0.0
        correction = prompt_tokens + completion_tokens - reserved_tokens
        try:
            with redis_guard("spend", "open", self._observer):
                await self.ledger.add(subject, cost - reserved_usd)
                await self._limiter.add(self._quotas(subject, requests=0, tokens=correction))
        except FailOpen:
            log.warning("usage of key %s (tenant %s) not recorded: %.6f USD", subject.key_id, subject.tenant, cost)
        return cost

    async def report(self, *, tenant: str | None = None) -> dict[str, Any]:
        """The spend report for `GET /admin/spend` (all tenants, or one)."""
        return await self.ledger.report(tenant=tenant)

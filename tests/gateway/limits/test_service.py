from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from gateway.errors import StoreUnavailable
from gateway.limits import Limits, LimitsPolicy, OnRedisError
from gateway.limits.service import LimitsService, RateLimitExceeded
from gateway.redisconn import connect
from registry import ModelSpec, Tier
from router.errors import RateLimited

SPEC = ModelSpec(id="m", litellm_model="openai/m", price={"input_per_mtok": 1.0, "output_per_mtok": 2.0})


@dataclass(frozen=True)
class Who:
    tenant: str = "acme"
    key_id: str = "k1"
    key_limits: Limits = field(default_factory=Limits)
    tenant_limits: Limits = field(default_factory=Limits)


@dataclass
class Counter:
    errors: list[str] = field(default_factory=list)

    def redis_error(self, component: str) -> None:
        self.errors.append(component)

    def redis_latency(self, component: str, seconds: float) -> None:
        pass


def service(redis: aioredis.Redis, prefix: str, **policy: object) -> LimitsService:
    return LimitsService(redis=redis, policy=LimitsPolicy.model_validate(policy), prefix=prefix)


async def test_requests_per_minute_refuse_with_headers(redis: aioredis.Redis, prefix: str) -> None:
    svc = service(redis, prefix)
    who = Who(key_limits=Limits(requests_per_minute=2))
    first = await svc.admit(who)
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    await svc.admit(who)
    with pytest.raises(RateLimitExceeded) as info:
        await svc.admit(who)
    assert info.value.status == 429 and info.value.code == "rate_limit_exceeded"
    headers = info.value.headers()
    assert headers["x-ratelimit-limit-requests"] == "2" and int(headers["retry-after"]) >= 1


async def test_tenant_limit_is_shared_by_its_keys(redis: aioredis.Redis, prefix: str) -> None:
    svc = service(redis, prefix)
    tenant = Limits(requests_per_minute=3)
    admitted = 0
    for i in range(6):
        try:
            await svc.admit(Who(key_id=f"k{i % 3}", tenant_limits=tenant))
            admitted += 1
        except RateLimited:
            pass
    assert admitted == 3
    await svc.admit(Who(tenant="other", tenant_limits=tenant))  # another tenant is not affected


async def test_token_reservation_is_corrected_by_settle(redis: aioredis.Redis, prefix: str) -> None:
    svc = service(redis, prefix)
    who = Who(key_limits=Limits(tokens_per_minute=1000))
    adm = await svc.admit(who, tokens=600)
    assert adm.reserved_tokens == 600 and adm.headers["x-ratelimit-remaining-tokens"] == "400"
    with pytest.raises(RateLimited):
        await svc.admit(who, tokens=600)
    await svc.settle(who, spec=SPEC, prompt_tokens=100, completion_tokens=50, reserved_tokens=600)
    again = await svc.admit(who, tokens=600)  # 150 used, 600 more fit
    assert again.headers["x-ratelimit-remaining-tokens"] == "250"


async def test_a_request_larger_than_the_minute_is_admitted_into_an_empty_window(
        redis: aioredis.Redis, prefix: str) -> None:
    svc = service(redis, prefix)
    who = Who(key_limits=Limits(tokens_per_minute=100), tenant_limits=Limits(tokens_per_minute=80))
    adm = await svc.admit(who, tokens=5000)
    assert adm.reserved_tokens == 80
    with pytest.raises(RateLimited):
        await svc.admit(who, tokens=1)


async def test_settle_prices_usage_and_reports_per_tenant(redis: aioredis.Redis, prefix: str) -> None:
    svc = service(redis, prefix)
    cost = await svc.settle(Who(), spec=SPEC, prompt_tokens=1000, completion_tokens=500)
    assert cost == pytest.approx(0.002)
    await svc.settle(Who(key_id="k2"), spec=SPEC, prompt_tokens=1000, completion_tokens=0)
    await svc.settle(Who(tenant="beta", key_id="b1"), spec=SPEC, prompt_tokens=0, completion_tokens=1000)
    report = await svc.report()
    acme = report["tenants"]["acme"]
    assert acme["day_usd"] == pytest.approx(0.003) and acme["month_usd"] == pytest.approx(0.003)
    assert acme["keys"]["k1"]["day_usd"] == pytest.approx(0.002)
    assert set(report["tenants"]) == {"acme", "beta"}
    only_beta = await svc.report(tenant="beta")
    assert set(only_beta["tenants"]) == {"beta"} and set(only_beta["tenants"]["beta"]["keys"]) == {"b1"}


async def test_spent_budget_refuses_with_insufficient_quota(redis: aioredis.Redis, prefix: str) -> None:
    svc = LimitsService(redis=redis, policy=LimitsPolicy(), prefix=prefix,
                        clock=lambda: datetime(2026, 11, 28, 23, 0, tzinfo=UTC))
    who = Who(key_limits=Limits(budget_usd_per_day=0.001))
    await svc.admit(who)
    await svc.settle(who, spec=SPEC, prompt_tokens=1000, completion_tokens=0)
    with pytest.raises(RateLimited) as info:
        await svc.admit(who)
    assert info.value.code == "insufficient_quota" and info.value.status == 429
    assert info.value.retry_after == pytest.approx(3600)
    await svc.admit(Who(key_id="k2"))  # other keys of the tenant have no key budget


async def test_spent_tenant_monthly_budget_downgrades(redis: aioredis.Redis, prefix: str) -> None:
    svc = service(redis, prefix, on_budget_exhausted="downgrade", downgrade_to_tier=1)
    who = Who(tenant_limits=Limits(budget_usd_per_month=0.001))
    assert (await svc.admit(who)).max_tier is None
    await svc.settle(Who(key_id="another"), spec=SPEC, prompt_tokens=2000, completion_tokens=0)
    assert (await svc.admit(who)).max_tier == Tier.SIMPLE


async def test_redis_down_fails_open_and_counts(prefix: str) -> None:
    dead = connect("redis://127.0.0.1:1/0", max_connections=4, timeout_s=0.2)
    counter = Counter()
    svc = LimitsService(redis=dead, policy=LimitsPolicy(), prefix=prefix, observer=counter)
    who = Who(key_limits=Limits(requests_per_minute=1, budget_usd_per_day=1.0))
    adm = await svc.admit(who, tokens=10)
    assert adm.failed_open == ("budgets", "rate_limits") and adm.reserved_tokens == 0
    assert await svc.settle(who, spec=SPEC, prompt_tokens=10, completion_tokens=0) > 0
    assert counter.errors == ["budgets", "rate limits", "spend"]
    await dead.aclose()


@pytest.mark.parametrize("closed", ["rate_limits", "budgets"])
async def test_redis_down_fails_closed_per_limit_type(prefix: str, closed: str) -> None:
    dead = connect("redis://127.0.0.1:1/0", max_connections=4, timeout_s=0.2)
    policy = LimitsPolicy(on_redis_error=OnRedisError.model_validate({closed: "closed"}))
    svc = LimitsService(redis=dead, policy=policy, prefix=prefix)
    with pytest.raises(StoreUnavailable) as info:
        await svc.admit(Who(key_limits=Limits(requests_per_minute=5, budget_usd_per_day=1.0)))
    assert info.value.status == 503
    await dead.aclose()

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from gateway.auth import AuthPolicy
from gateway.auth.store import bearer_token
from gateway.auth.tenancy import Tenancy
from gateway.errors import GuardrailViolation
from gateway.guardrails import GuardrailsPolicy
from router.errors import RateLimited


@dataclass
class Observer:
    events: list[str] = field(default_factory=list)

    def redis_error(self, component: str) -> None:
        self.events.append(f"redis:{component}")

    def redis_latency(self, component: str, seconds: float) -> None:
        pass

    def guardrail_triggered(self, guardrail: str, action: str) -> None:
        self.events.append(f"{guardrail}:{action}")


AUTH = {"keys": [{"id": "k1", "tenant": "acme", "key_env": "K1", "limits": {"requests_per_minute": 1}}]}
GUARDS = GuardrailsPolicy.model_validate({"profiles": {"p": {"input": {"pii": {"action": "block"}}}},
                                          "tenants": {"acme": "p"}})


async def test_built_with_redis(redis: aioredis.Redis, prefix: str) -> None:
    observer = Observer()
    tenancy = await Tenancy.build(auth=AuthPolicy.model_validate({**AUTH, "redis_prefix": prefix}),
                                  guardrails=GUARDS, environ={"K1": "tk-one", "TURNOUT_MASTER_KEY": "m"},
                                  redis=redis, observer=observer)
    assert tenancy.admin is not None and tenancy.limits is not None
    principal = await tenancy.keys.authenticate(bearer_token("Bearer tk-one"))
    await tenancy.limits.admit(principal)
    with pytest.raises(RateLimited):
        await tenancy.limits.admit(principal)
    guards = tenancy.guardrails.for_request(tenant=principal.tenant, route="auto")
    assert guards is not None
    with pytest.raises(GuardrailViolation):
        await guards.check_input([{"role": "user", "content": "mail me: a@b.io"}])
    assert observer.events == ["input.pii:block"]


async def test_without_redis_says_what_is_off(caplog: pytest.LogCaptureFixture) -> None:
    tenancy = await Tenancy.build(auth=AuthPolicy.model_validate(AUTH), guardrails=GuardrailsPolicy(),
                                  environ={"K1": "tk-one", "TURNOUT_MASTER_KEY": "m"}, redis=None)
    assert tenancy.admin is None and tenancy.limits is None
    assert "the key admin API is unavailable" in caplog.text
    assert "rate limits and budgets are configured but no Redis is" in caplog.text


async def test_open_mode_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    tenancy = await Tenancy.build(auth=AuthPolicy(), guardrails=GuardrailsPolicy(), environ={}, redis=None)
    assert tenancy.keys.open_mode and "open mode" in caplog.text
    assert (await tenancy.keys.authenticate(None)).anonymous

"""Everything of keys, limits and guardrails a running gateway holds, built once in the lifespan.

    tenancy = await Tenancy.build(auth=policy.auth, guardrails=policy.guardrails, environ=settings.environ,
                                  redis=redis_or_none, observer=metrics)
    principal = await tenancy.keys.authenticate(bearer_token(request.headers.get("authorization")))
    admission = await tenancy.limits.admit(principal, tokens=request.prompt_tokens) if tenancy.limits else None
    guards = tenancy.guardrails.for_request(tenant=principal.tenant, route=request.model)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from gateway.auth.admin import KeyAdmin
from gateway.auth.policy import AuthPolicy
from gateway.auth.store import KeyStore
from gateway.guardrails.policy import GuardrailsPolicy
from gateway.guardrails.service import GuardrailsService
from gateway.limits.service import LimitsService
from gateway.redisbatch import CommandBatch

log = logging.getLogger("turnout.auth")


class TenancyObserver(Protocol):
    def redis_error(self, component: str) -> None: ...

    def redis_latency(self, component: str, seconds: float) -> None: ...

    def guardrail_triggered(self, guardrail: str, action: str) -> None: ...


def _has_limits(policy: AuthPolicy) -> bool:
    limits = [policy.open_limits, *(t.limits for t in policy.tenants.values()), *(k.limits for k in policy.keys)]
    return any(v is not None for lim in limits for v in lim.model_dump().values())


@dataclass(frozen=True, slots=True)
class Tenancy:
    keys: KeyStore
    admin: KeyAdmin | None
    """None without Redis: keys can then only be declared in the policy."""
    limits: LimitsService | None
    """None without Redis: no rate limits or budgets are enforced (logged at start)."""
    guardrails: GuardrailsService

    @classmethod
    async def build(cls, *, auth: AuthPolicy, guardrails: GuardrailsPolicy, environ: Mapping[str, str],
                    redis: Redis | None, observer: TenancyObserver | None = None,
                    batch: CommandBatch | None = None) -> Tenancy:
        keys = KeyStore(policy=auth, environ=environ, redis=redis)
        if keys.open_mode:
            log.warning("no API keys configured (no auth.keys, %s unset): open mode, every caller is anonymous",
                        auth.master_key_env)
        admin = KeyAdmin(store=keys) if redis is not None and keys.master_key_set else None
        if redis is None and keys.master_key_set:
            log.warning("%s is set but no Redis is configured: the key admin API is unavailable", auth.master_key_env)
        if redis is not None and not keys.hasher.peppered:
            log.warning("%s is not set: keys in Redis are stored as plain SHA-256 digests", auth.pepper_env)
        limits = None
        if redis is not None:
            limits = LimitsService(redis=redis, policy=auth.limits, prefix=auth.redis_prefix, observer=observer,
                                   batch=batch)
        elif _has_limits(auth):
            log.warning("rate limits and budgets are configured but no Redis is: they are not enforced")
        service = await GuardrailsService.load(guardrails, observer=observer)
        return cls(keys=keys, admin=admin, limits=limits, guardrails=service)

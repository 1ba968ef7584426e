"""Step 1 of the request path: who is calling, may they use this route, are they within their limits,
and the input guardrails. Then, once answered, what the answer cost them and the output guardrails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.auth.principal import Principal
from gateway.auth.store import bearer_token
from gateway.auth.tenancy import Tenancy
from gateway.guardrails.service import Guardrails
from gateway.limits.service import Admission
from registry import ModelSpec, Tier

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger("turnout.access")


@dataclass(slots=True)
class Access:
    principal: Principal
    admission: Admission | None = None
    guards: Guardrails | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def max_tier(self) -> Tier:
        cap = self.principal.max_tier
        if self.admission is not None and self.admission.max_tier is not None:
            cap = min(cap, self.admission.max_tier)
        return cap


async def authenticate(tenancy: Tenancy, headers: Mapping[str, str]) -> Principal:
    return await tenancy.keys.authenticate(bearer_token(headers.get("authorization")))


async def admit(tenancy: Tenancy, runtime: Runtime, principal: Principal, name: str, body: dict[str, Any],
                prompt_tokens: int) -> Access:
    """Route permission, rate limits and budgets, input guardrails (which may redact `body` in place)."""
    principal.check_route(name, alias=name in runtime.policy.router.aliases)
    access = Access(principal=principal)
    if tenancy.limits is not None:
        access.admission = await tenancy.limits.admit(principal, tokens=prompt_tokens,
                                                      cost_usd=estimate_cost(runtime, body, prompt_tokens))
        access.headers.update(access.admission.headers)
    access.guards = tenancy.guardrails.for_request(tenant=principal.tenant, route=name)
    if access.guards is not None:
        try:
            verdict = await access.guards.check_input(body["messages"], response_format=body.get("response_format"))
        except BaseException:
            if tenancy.limits is not None and access.admission is not None:  # blocked: nothing will be spent
                await asyncio.shield(tenancy.limits.release(principal, access.admission.reserved_usd))
            raise
        body["messages"] = verdict.messages
    return access


COMPLETION_ESTIMATE = 512
"""Completion tokens expected of a request that sets no `max_tokens` (for the budget reservation)."""


def estimate_cost(runtime: Runtime, body: Mapping[str, Any], prompt_tokens: int) -> float:
    """A request's cost before it is routed, at the dearest chat model's prices: reserved against
    the budgets when admitted, replaced by the real cost when settled."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or COMPLETION_ESTIMATE
    completion = limit if isinstance(limit, int) else COMPLETION_ESTIMATE
    return max((s.price.cost(prompt_tokens, completion) for s in runtime.specs.values() if s.capabilities.chat),
               default=0.0)


class SpendRecorder:
    """Settles answers' usage against keys' budgets and token windows off the response path.

    Usage is summed per key and model and written every `interval_s` (one Redis round trip per key
    and model per interval instead of one per request); cost is linear in tokens, so the sums are
    exact. Budgets therefore lag by at most one interval. `drain()` writes what is pending (shutdown).
    """

    def __init__(self, tenancy: Tenancy, *, interval_s: float = 0.2) -> None:
        self._tenancy = tenancy
        self._interval = interval_s
        self._pending: dict[tuple[str, str, str], _Usage] = {}

    def settle(self, access: Access, runtime: Runtime, model: str | None, usage: Mapping[str, int]) -> None:
        """Settle one request: its usage of `model` (None: no model answered, or the cache did)
        replaces what was reserved for it."""
        admission = access.admission
        if self._tenancy.limits is None or admission is None:
            return
        spec = runtime.specs.get(model) if model is not None else None
        if spec is None and not (admission.reserved_usd or admission.reserved_tokens):
            return
        principal = access.principal
        key = (principal.tenant, principal.key_id, spec.id if spec is not None else "")
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = _Usage(principal, spec)
        if spec is not None:
            entry.prompt += usage.get("prompt_tokens", 0)
            entry.completion += usage.get("completion_tokens", 0)
        entry.reserved += admission.reserved_tokens
        entry.reserved_usd += admission.reserved_usd

    async def flush(self) -> None:
        limits = self._tenancy.limits
        pending, self._pending = self._pending, {}
        if limits is None or not pending:
            return
        await asyncio.gather(*(limits.settle(u.principal, spec=u.spec, prompt_tokens=u.prompt,
                                             completion_tokens=u.completion, reserved_tokens=u.reserved,
                                             reserved_usd=u.reserved_usd)
                               for u in pending.values()), return_exceptions=True)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def drain(self) -> None:
        await self.flush()


@dataclass(slots=True)
class _Usage:
    principal: Principal
    spec: ModelSpec | None
    prompt: int = 0
    completion: int = 0
    reserved: int = 0
    reserved_usd: float = 0.0

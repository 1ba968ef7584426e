"""Step 1 of the request path: who is calling, may they use this route, are they within their limits,
and the input guardrails. Then, once answered, what the answer cost them and the output guardrails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.auth.principal import Principal
from gateway.auth.store import bearer_token
from gateway.auth.tenancy import Tenancy
from gateway.guardrails.service import Guardrails
from gateway.limits.service import Admission
from gateway.request import ChatRequest
from registry import ModelSpec, Tier

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


async def admit(tenancy: Tenancy, principal: Principal, request: ChatRequest, *, alias: bool,
                specs: Mapping[str, ModelSpec]) -> tuple[Access, ChatRequest]:
    """Route permission, rate limits and budgets, input guardrails; returns the request as it goes on
    (guardrails may have redacted its messages). `alias`: the request names a router alias (else a
    model id); `specs`: the policy's models (for the cost reserved against the budgets)."""
    name, body = request.model, request.body
    principal.check_route(name, alias=alias)
    access = Access(principal=principal)
    if tenancy.limits is not None:
        access.admission = await tenancy.limits.admit(
            principal, tokens=request.prompt_tokens, cost_usd=estimate_cost(specs, body, request.prompt_tokens))
        access.headers.update(access.admission.headers)
    access.guards = tenancy.guardrails.for_request(tenant=principal.tenant, route=name)
    if access.guards is None:
        return access, request
    try:
        verdict = await access.guards.check_input(request.messages, response_format=body.get("response_format"))
    except BaseException:
        if tenancy.limits is not None and access.admission is not None:  # blocked: nothing will be spent
            await asyncio.shield(tenancy.limits.release(principal, access.admission.reserved_usd))
        raise
    return access, request.redacted(verdict.messages)


COMPLETION_ESTIMATE = 512
"""Completion tokens expected of a request that sets no `max_tokens` (for the budget reservation)."""


def estimate_cost(specs: Mapping[str, ModelSpec], body: Mapping[str, Any], prompt_tokens: int) -> float:
    """A request's cost before it is routed, at the dearest chat model's prices: reserved against
    the budgets when admitted, replaced by the real cost when settled."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or COMPLETION_ESTIMATE
    completion = limit if isinstance(limit, int) else COMPLETION_ESTIMATE
    return max((s.price.cost(prompt_tokens, completion) for s in specs.values() if s.capabilities.chat),
               default=0.0)

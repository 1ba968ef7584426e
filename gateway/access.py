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
from registry import Tier

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
        access.admission = await tenancy.limits.admit(principal, tokens=prompt_tokens)
        access.headers.update(access.admission.headers)
    access.guards = tenancy.guardrails.for_request(tenant=principal.tenant, route=name)
    if access.guards is not None:
        verdict = await access.guards.check_input(body["messages"], response_format=body.get("response_format"))
        body["messages"] = verdict.messages
    return access


class SpendRecorder:
    """Settles each answer's usage against its key's budgets off the response path, keeping the
    tasks referenced until they finish (and waiting for them at shutdown)."""

    def __init__(self, tenancy: Tenancy) -> None:
        self._tenancy = tenancy
        self._tasks: set[asyncio.Task[float]] = set()

    def settle(self, access: Access, runtime: Runtime, model: str | None, usage: Mapping[str, int]) -> None:
        limits = self._tenancy.limits
        if limits is None or model is None or model not in runtime.specs:
            return
        task = asyncio.create_task(limits.settle(
            access.principal, spec=runtime.specs[model], prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            reserved_tokens=access.admission.reserved_tokens if access.admission else 0))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

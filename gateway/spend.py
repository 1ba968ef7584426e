"""Step 6 of the request path: what an answer cost its caller, settled off the response path."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.access import Access
from gateway.auth.principal import Principal
from gateway.limits.service import LimitsService
from gateway.runtime import Runtime
from registry import ModelSpec


class SpendRecorder:
    """Settles answers' usage against keys' budgets and token windows off the response path.

    Usage is summed per key and model and written every `interval_s` (one Redis round trip per key
    and model per interval instead of one per request); cost is linear in tokens, so the sums are
    exact. Budgets therefore lag by at most one interval. `drain()` writes what is pending (shutdown).
    """

    def __init__(self, *, interval_s: float = 0.2) -> None:
        self._interval = interval_s
        self._pending: dict[tuple[int, str, str, str], _Usage] = {}

    def settle(self, access: Access, runtime: Runtime, model: str | None, usage: Mapping[str, int]) -> None:
        """Charge `usage` to the caller under the limits of the policy the request ran on."""
        limits = runtime.tenancy.limits
        if limits is None or model is None or model not in runtime.specs:
            return
        principal = access.principal
        key = (id(limits), principal.tenant, principal.key_id, model)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = _Usage(limits, principal, runtime.specs[model])
        entry.prompt += usage.get("prompt_tokens", 0)
        entry.completion += usage.get("completion_tokens", 0)
        entry.reserved += access.admission.reserved_tokens if access.admission else 0

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        await asyncio.gather(*(u.limits.settle(u.principal, spec=u.spec, prompt_tokens=u.prompt,
                                             completion_tokens=u.completion, reserved_tokens=u.reserved)
                               for u in pending.values()), return_exceptions=True)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def drain(self) -> None:
        await self.flush()


@dataclass(slots=True)
class _Usage:
    limits: LimitsService
    principal: Principal
    spec: ModelSpec
    prompt: int = 0
    completion: int = 0
    reserved: int = 0

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
        """Settle one request under the limits of the policy it ran on: its usage of `model` (None: no
        model answered, or the cache did) replaces what was reserved for it."""
        limits = runtime.tenancy.limits
        admission = access.admission
        if limits is None or admission is None:
            return
        spec = runtime.specs.get(model) if model is not None else None
        if spec is None and not (admission.reserved_usd or admission.reserved_tokens):
            return
        principal = access.principal
        key = (id(limits), principal.tenant, principal.key_id, spec.id if spec is not None else "")
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = _Usage(limits, principal, spec)
        if spec is not None:
            entry.prompt += usage.get("prompt_tokens", 0)
            entry.completion += usage.get("completion_tokens", 0)
        entry.reserved += admission.reserved_tokens
        entry.reserved_usd += admission.reserved_usd

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        await asyncio.gather(*(u.limits.settle(u.principal, spec=u.spec, prompt_tokens=u.prompt,
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
    limits: LimitsService
    principal: Principal
    spec: ModelSpec | None
    prompt: int = 0
    completion: int = 0
    reserved: int = 0
    reserved_usd: float = 0.0

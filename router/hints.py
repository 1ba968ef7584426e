"""The routing hints a request carries, as the router reads them (the gateway parses them from
headers and the body: `gateway.hints`). Hints only narrow the policy's own choices."""

from __future__ import annotations

from dataclasses import dataclass, fields

from registry import Tier
from router.policy import LatencyClass


@dataclass(frozen=True, slots=True)
class Hints:
    max_tier: Tier | None = None
    max_cost_usd: float | None = None
    latency_class: LatencyClass | None = None
    escalate: bool = False

    def given(self) -> frozenset[str]:
        """Names of the hints the client set."""
        if self.max_tier is None and self.max_cost_usd is None and self.latency_class is None and not self.escalate:
            return frozenset()  # the usual case, per request: skip the field walk
        return frozenset(f.name for f in fields(self) if getattr(self, f.name) not in (None, False))

"""One record per request: what metrics, the decision log, tracing, spend and headers all read from.

The request path fills a `RequestRecord`: the gateway's facts (request id, tenant, cache, status,
timings) in its own fields, and the router's `RouteRecord` by reference (`routed`): the decision
and every attempt the executor made, as the executor wrote them. Model, tier, attempts, fallbacks,
tokens, cost and time to first token are read from that one route record (properties), never
copied. When the request ends (after the last byte of a stream) the record goes to every `Observer`.
Observers must not block: they run on the event loop.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gateway.tracing.spans import RequestTrace
    from router.record import Attempt, RouteRecord
    from router.select import Decision


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    endpoint: str
    """`chat` or `embeddings`."""
    route: str
    """The requested alias or model id (closed set: names from the policy, or `unknown`)."""
    status: int = 200
    error_class: str | None = None
    stream: bool = False
    tenant: str = "default"
    cache: str = "bypass"
    """`hit-exact`, `hit-semantic`, `miss` or `bypass`."""
    cache_similarity: float | None = None
    cached_model: str | None = None
    """The model named by the cached answer served (cache hits: no route record)."""
    latency_ms: float = 0.0
    upstream_ms: float = 0.0
    """Time spent waiting on upstreams; overhead is latency minus this."""
    classifier_ms: float | None = None
    policy_version: str = ""
    trace: RequestTrace | None = None
    """The request's span when tracing is on (`gateway.tracing`)."""
    routed: RouteRecord | None = None
    """The router's record: the decision and every attempt (None before a decision, and on a cache hit)."""

    @property
    def overhead_ms(self) -> float:
        return max(0.0, self.latency_ms - self.upstream_ms)

    # Read from the route record, written by the executor. Each property reads it directly (no
    # property calls another): observers read a dozen of them per request, on the event loop.

    @property
    def decision(self) -> Decision | None:
        return self.routed.decision if self.routed is not None else None

    @property
    def model(self) -> str | None:
        """The model that answered (None when none did)."""
        return self.routed.model if self.routed is not None else self.cached_model

    @property
    def tier(self) -> int | None:
        """The routed tier (None: not routed, or the request named a model id)."""
        routed = self.routed
        return None if routed is None or routed.decision.pinned else int(routed.decision.tier)

    @property
    def score(self) -> float | None:
        routed = self.routed
        return None if routed is None or routed.decision.pinned else routed.decision.score

    @property
    def task(self) -> str | None:
        routed = self.routed
        return None if routed is None or routed.decision.pinned else routed.decision.task

    @property
    def uncertain(self) -> bool:
        routed = self.routed
        if routed is None or routed.decision.pinned:
            return False
        escalated = routed.decision.escalated
        return escalated is not None and "uncertain" in escalated

    @property
    def semantic_route(self) -> str | None:
        """The matched semantic route, `none` when the alias's routes matched nothing; None: no routes."""
        routed = self.routed
        if routed is None or routed.decision.pinned or routed.decision.route is None:
            return None
        return routed.decision.route.route or "none"

    @property
    def chain(self) -> tuple[str, ...]:
        return self.routed.decision.chain if self.routed is not None else ()

    @property
    def attempts(self) -> list[Attempt]:
        return self.routed.attempts if self.routed is not None else []

    @property
    def fallbacks(self) -> list[tuple[str, str, str]]:
        """(from model, to model, reason) for each move down the chain."""
        attempts = self.routed.attempts if self.routed is not None else ()
        if len(attempts) < 2:
            return []
        return [(before.model, after.model, before.error or before.outcome)
                for before, after in itertools.pairwise(attempts) if before.model != after.model]

    @property
    def usage(self) -> dict[str, int]:
        return self.routed.usage if self.routed is not None else {}

    @property
    def tokens_in(self) -> int:
        return self.routed.usage.get("prompt_tokens", 0) if self.routed is not None else 0

    @property
    def tokens_out(self) -> int:
        return self.routed.usage.get("completion_tokens", 0) if self.routed is not None else 0

    @property
    def cost_usd(self) -> float:
        return (self.routed.cost_usd or 0.0) if self.routed is not None else 0.0

    @property
    def ttft_ms(self) -> float | None:
        return self.routed.ttft_ms if self.routed is not None else None

    def to_log(self) -> dict[str, Any]:
        """The per-request JSON log line's fields: the route record's, then the gateway's."""
        payload: dict[str, Any] = self.routed.to_log() if self.routed is not None else {"alias": self.route}
        payload.update(request_id=self.request_id, tenant=self.tenant, status=self.status, error=self.error_class,
                       stream=self.stream, cache=self.cache, tokens_in=self.tokens_in, tokens_out=self.tokens_out,
                       latency_ms=round(self.latency_ms, 2), overhead_ms=round(self.overhead_ms, 3),
                       classifier_ms=self.classifier_ms)
        return payload


class Observer(Protocol):
    def observe(self, record: RequestRecord) -> None: ...


def route_headers(route: RouteRecord) -> dict[str, str]:
    """The `x-turnout-*` response headers of a routed request; the caller adds `x-request-id`."""
    decision = route.decision
    out = {"x-turnout-attempts": str(route.calls), "x-turnout-policy-version": decision.policy_version}
    if not decision.pinned:
        out["x-turnout-tier"] = str(int(decision.tier))
    if route.model is not None:
        out["x-turnout-model"] = route.model
    if decision.route is not None:
        out["x-turnout-route"] = decision.route.route or "none"
    return out

"""One record per request: what metrics, the decision log and response headers all read from.

The request path fills a `RequestRecord` and hands it to every `Observer` when the request ends
(after the last byte of a stream). Observers must not block: they run on the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.tracing.spans import RequestTrace
    from router.record import RouteRecord
    from router.select import Decision


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    model: str
    outcome: str
    """`ok`, or the error class name from `router.errors` (`RateLimited`, `UpstreamTimeout`, ...)."""
    latency_ms: float
    error_code: str | None = None
    ended: float = 0.0
    """Wall-clock time the attempt ended (0 when unknown)."""


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    endpoint: str
    """`chat` or `embeddings`."""
    route: str
    """The requested alias or model id (closed set: names from the policy, or `unknown`)."""
    status: int = 200
    error_class: str | None = None
    model: str | None = None
    """The model that answered (None when none did)."""
    tier: int | None = None
    score: float | None = None
    task: str | None = None
    uncertain: bool = False
    stream: bool = False
    tenant: str = "default"
    cache: str = "bypass"
    """`hit-exact`, `hit-semantic`, `miss` or `bypass`."""
    cache_similarity: float | None = None
    attempts: Sequence[AttemptRecord] = ()
    fallbacks: Sequence[tuple[str, str, str]] = ()
    """(from model, to model, reason) for each move down the chain."""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    upstream_ms: float = 0.0
    """Time spent waiting on upstreams; overhead is latency minus this."""
    classifier_ms: float | None = None
    semantic_route: str | None = None
    """The matched semantic route, `none` when the alias's routes matched nothing; None: no routes."""
    policy_version: str = ""
    chain: Sequence[str] = field(default_factory=tuple)
    trace: RequestTrace | None = None
    """The request's span when tracing is on (`gateway.tracing`)."""

    @property
    def overhead_ms(self) -> float:
        return max(0.0, self.latency_ms - self.upstream_ms)


class Observer(Protocol):
    def observe(self, record: RequestRecord) -> None: ...


def note_decision(record: RequestRecord, decision: Decision) -> None:
    record.chain = decision.chain
    if not decision.pinned:
        record.tier, record.score, record.task = int(decision.tier), decision.score, decision.task
        record.uncertain = decision.escalated is not None and "uncertain" in decision.escalated
        if decision.route is not None:
            record.semantic_route = decision.route.route or "none"


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


def attempts_ms(route: RouteRecord | None) -> float:
    return sum(a.latency_ms for a in route.attempts) if route is not None else 0.0


def note_route(record: RequestRecord, route: RouteRecord) -> None:
    record.model = route.model
    record.attempts = tuple(AttemptRecord(a.model, "ok" if a.outcome == "ok" else (a.error or a.outcome),
                                          a.latency_ms, None, a.ended) for a in route.attempts)
    fallbacks = []
    for before, after in zip(route.attempts, route.attempts[1:], strict=False):
        if before.model != after.model:
            fallbacks.append((before.model, after.model, before.error or before.outcome))
    record.fallbacks = tuple(fallbacks)
    record.tokens_in = route.usage.get("prompt_tokens", 0)
    record.tokens_out = route.usage.get("completion_tokens", 0)
    record.cost_usd = route.cost_usd or 0.0
    record.ttft_ms = route.ttft_ms

"""The one record of how a request was routed and called: the gateway's `RequestRecord` holds it by reference.

Every attempt is kept (TensorZero style): the model, the outcome, the latency and the error class.
Models passed over without a call (circuit open, at capacity) are kept too, as `skipped`.
Nothing here holds a message from upstream, a URL or a key: error classes and statuses only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from router.errors import TurnoutError
from router.select import Decision

Outcome = Literal["ok", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class Attempt:
    model: str
    outcome: Outcome
    latency_ms: float
    error: str | None = None
    """Class name of the error, e.g. `RateLimited`."""
    status: int | None = None
    retry: int = 0
    """0 for the first call of this model, 1 for its first retry, ..."""
    ttft_ms: float | None = None
    ended: float = 0.0
    """Wall-clock time (`time.time()`) the attempt ended: traces lay attempt spans from it."""

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "outcome": self.outcome, "latency_ms": round(self.latency_ms, 1),
                "error": self.error, "status": self.status, "retry": self.retry,
                "ttft_ms": round(self.ttft_ms, 1) if self.ttft_ms is not None else None}

    @property
    def result(self) -> str:
        """`ok`, or what went wrong: the error class (`RateLimited`, ...), else `skipped`/`error`.
        The outcome label of metrics and traces."""
        return "ok" if self.outcome == "ok" else (self.error or self.outcome)

    def summary(self) -> str:
        return f"{self.model}: {self.outcome}" + (f" {self.error} ({self.status})" if self.error else "")


@dataclass(slots=True)
class RouteRecord:
    """Filled by the executor as it walks the chain; read after success or failure."""

    decision: Decision
    attempts: list[Attempt] = field(default_factory=list)
    model: str | None = None
    """The model that answered, once one has."""
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    ttft_ms: float | None = None
    stream_error: str | None = None
    """Class of the error that cut a stream after its first chunk (the client got an SSE error event)."""
    prompt_estimate: int = 0
    """The request's prompt tokens as the gateway counted them: charged when an answer's usage lacks them."""
    trace_headers: dict[str, str] | None = None
    """Headers for OpenAI-compatible upstreams when the request is traced (W3C `traceparent`)."""

    def add(self, model: str, outcome: Outcome, latency_ms: float, *, error: TurnoutError | None = None,
            retry: int = 0, ttft_ms: float | None = None) -> Attempt:
        attempt = Attempt(model=model, outcome=outcome, latency_ms=latency_ms,
                          error=type(error).__name__ if error is not None else None,
                          status=error.status if error is not None else None, retry=retry, ttft_ms=ttft_ms,
                          ended=time.time())
        self.attempts.append(attempt)
        return attempt

    @property
    def calls(self) -> int:
        """Attempts that reached an upstream (skips excluded)."""
        return sum(1 for a in self.attempts if a.outcome != "skipped")

    def summary(self) -> str:
        return "; ".join(a.summary() for a in self.attempts)

    def to_log(self) -> dict[str, Any]:
        """Fields of the per-request JSON log line (the gateway adds request id, tenant, latency)."""
        d = self.decision
        return {"alias": d.alias, "pinned": d.pinned, "tier": None if d.pinned else int(d.tier),
                "classified_tier": None if d.pinned else int(d.classified_tier), "score": d.score,
                "task": d.task, "escalated": d.escalated, "chain": list(d.chain),
                "attempts": [a.to_dict() for a in self.attempts], "model": self.model, "usage": self.usage,
                "cost_usd": self.cost_usd, "ttft_ms": self.ttft_ms, "stream_error": self.stream_error,
                "policy_version": d.policy_version,
                **({"route": d.route.route, "route_score": round(d.route.score, 4),
                    "route_similarity": round(d.route.similarity, 4)} if d.route is not None else {})}

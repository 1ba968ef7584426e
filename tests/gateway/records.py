"""Request records as the request path leaves them: the gateway's fields around a router `RouteRecord`.

    record = routed_record(route="auto", model="big", tier=2, attempts=[("small", "RateLimited", 5.0),
                                                                       ("big", "ok", 50.0)], tokens_in=12)

`attempts` are (model, `ok` or an error class, latency ms[, ended]); `tier=None` is a request that
named a model id (a pinned decision). Model, tier, task, attempts, tokens, cost and time to first
token land in the route record, where the executor writes them; the rest in the `RequestRecord`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.record import RequestRecord
from registry import Tier
from router.record import Attempt, RouteRecord
from router.select import Decision

AttemptSpec = tuple[str, str, float] | tuple[str, str, float, float]


def attempt(spec: AttemptSpec) -> Attempt:
    model, result, latency_ms, *ended = spec
    ok = result == "ok"
    return Attempt(model=model, outcome="ok" if ok else "error", latency_ms=latency_ms,
                   error=None if ok else result, ended=ended[0] if ended else 0.0)


def route_record(*, model: str | None = None, tier: int | None = 1, task: str = "chat", uncertain: bool = False,
                 attempts: Sequence[AttemptSpec] = (), tokens_in: int = 0, tokens_out: int = 0,
                 cost_usd: float | None = None, ttft_ms: float | None = None, chain: Sequence[str] = (),
                 alias: str = "auto") -> RouteRecord:
    decision = Decision(alias=alias, tier=Tier(tier or 1), classified_tier=Tier(tier or 1), score=0.5, task=task,
                        escalated="uncertain" if uncertain else None, chain=tuple(chain), candidates=(),
                        policy_version="", pinned=tier is None)
    usage = {k: v for k, v in (("prompt_tokens", tokens_in), ("completion_tokens", tokens_out)) if v}
    return RouteRecord(decision, attempts=[attempt(a) for a in attempts], model=model, usage=usage,
                       cost_usd=cost_usd, ttft_ms=ttft_ms)


_ROUTED = {"model", "tier", "task", "uncertain", "attempts", "tokens_in", "tokens_out", "cost_usd", "ttft_ms", "chain"}


def routed_record(**fields: Any) -> RequestRecord:
    routed = {k: fields.pop(k) for k in list(fields) if k in _ROUTED}
    return RequestRecord(**fields, routed=route_record(alias=fields.get("route", "auto"), **routed))

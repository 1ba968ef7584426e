"""The per-candidate checks chain selection runs, in order. Each returns a `Verdict` or None (fits).

`hard` verdicts drop a model even when it is the default (it cannot serve the request at all);
`soft` ones drop any model but the default, which stays as the last resort; `demote` keeps the model
but moves it after the models that passed every check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from registry import ModelSpec, ModelStats
from router.features import RequestFeatures
from router.policy import LatencyTarget

VerdictKind = Literal["hard", "soft", "demote"]


@dataclass(frozen=True, slots=True)
class Verdict:
    check: str
    kind: VerdictKind
    reason: str


@dataclass(frozen=True, slots=True)
class CheckContext:
    features: RequestFeatures
    assumed_output_tokens: int
    cost_cap_usd: float | None
    latency: LatencyTarget | None
    breakers: Mapping[str, str]


def output_tokens_for_cost(ctx: CheckContext, spec: ModelSpec) -> int:
    return ctx.features.max_output_tokens or min(ctx.assumed_output_tokens, spec.max_output_tokens)


def estimate_cost(ctx: CheckContext, spec: ModelSpec) -> float:
    """Upper estimate in USD: prompt tokens plus the requested (or assumed) output, at registry prices."""
    return spec.price.cost(ctx.features.prompt_tokens_for(spec.id), output_tokens_for_cost(ctx, spec))


def _capabilities(ctx: CheckContext, spec: ModelSpec, stats: ModelStats | None) -> Verdict | None:
    caps, f = spec.capabilities, ctx.features
    needs = [("chat", f.kind == "chat", caps.chat), ("embeddings", f.kind == "embeddings", caps.embeddings),
             ("tools", f.has_tools, caps.tools), ("vision", f.has_images, caps.vision),
             ("json mode", f.wants_json, caps.json_mode), ("streaming", f.stream, caps.streaming)]
    missing = [name for name, needed, has in needs if needed and not has]
    return Verdict("capabilities", "hard", f"no {', '.join(missing)}") if missing else None


def _context(ctx: CheckContext, spec: ModelSpec, stats: ModelStats | None) -> Verdict | None:
    f = ctx.features
    if f.max_output_tokens is not None and f.max_output_tokens > spec.max_output_tokens:
        return Verdict("context", "hard",
                       f"max output {f.max_output_tokens} over the model's {spec.max_output_tokens}")
    needed = f.prompt_tokens_for(spec.id) + (f.max_output_tokens or 1)
    if needed > spec.context_window:
        return Verdict("context", "hard", f"needs {needed} tokens, window {spec.context_window}")
    return None


def _availability(ctx: CheckContext, spec: ModelSpec, stats: ModelStats | None) -> Verdict | None:
    if stats is not None and not stats.available:
        return Verdict("availability", "hard", f"unavailable ({stats.unavailable_reason or 'not configured'})")
    return None


def _health(ctx: CheckContext, spec: ModelSpec, stats: ModelStats | None) -> Verdict | None:
    if stats is not None and not stats.healthy:
        return Verdict("health", "soft", "unhealthy")
    if ctx.breakers.get(spec.id) == "open":
        return Verdict("health", "soft", "circuit open")
    return None


def _load(ctx: CheckContext, spec: ModelSpec, stats: ModelStats | None) -> Verdict | None:
    if stats is not None and stats.in_flight >= spec.max_concurrency:
        return Verdict("load", "soft", f"at max concurrency ({stats.in_flight}/{spec.max_concurrency})")
    return None


def _cost(ctx: CheckContext, spec: ModelSpec, stats: ModelStats | None) -> Verdict | None:
    if ctx.cost_cap_usd is None:
        return None
    cost = estimate_cost(ctx, spec)
    if cost > ctx.cost_cap_usd:
        return Verdict("cost", "soft", f"estimated ${cost:.6f} over the cap ${ctx.cost_cap_usd:.6f}")
    return None


def _latency(ctx: CheckContext, spec: ModelSpec, stats: ModelStats | None) -> Verdict | None:
    target = ctx.latency
    if target is None or stats is None or stats.samples < target.min_samples:
        return None
    kind: VerdictKind = "soft" if target.action == "skip" else "demote"
    if target.p99_ms is not None and stats.latency_p99_ms is not None and stats.latency_p99_ms > target.p99_ms:
        return Verdict("latency", kind, f"p99 {stats.latency_p99_ms:.0f}ms over {target.p99_ms:.0f}ms")
    if (target.ttft_p99_ms is not None and stats.ttft_p99_ms is not None
            and stats.ttft_p99_ms > target.ttft_p99_ms):
        return Verdict("latency", kind, f"TTFT p99 {stats.ttft_p99_ms:.0f}ms over {target.ttft_p99_ms:.0f}ms")
    return None


Check = Callable[[CheckContext, ModelSpec, "ModelStats | None"], "Verdict | None"]

CHECKS: tuple[Check, ...] = (_capabilities, _context, _availability, _health, _load, _cost, _latency)


def run_checks(ctx: CheckContext, spec: ModelSpec, stats: ModelStats | None) -> list[Verdict]:
    """Every verdict against a model; selection keeps it only if none is `hard` (or `soft` for non-defaults)."""
    return [v for check in CHECKS if (v := check(ctx, spec, stats)) is not None]

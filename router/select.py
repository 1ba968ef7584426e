"""Chain selection: a pure function from policy, classification, request shape and a registry
snapshot to a `Decision` (tier, ordered chain, why each candidate was kept or skipped).

    tier     = classifier tier, one up if uncertain or the client asks (`escalate`), capped by the
               client's `max_tier`, then mapped onto a tier the alias defines
    chain    = the alias's models for that tier (local ones first for a `local_first` alias),
               the router default appended unless already there
    checks   = `router.checks.CHECKS` per candidate; the default survives every soft verdict
    order    = policy order; demoted models after those; the appended default always last (it is the
               fallback, never load-balanced ahead of the alias's own models); within a run of
               adjacent equal models (same prices and tags) least loaded first

Nothing here does I/O or reads a clock: the same inputs give the same decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry import ModelSpec, ModelStats, Tier
from router.checks import CheckContext, Verdict, estimate_cost, run_checks
from router.errors import ContextWindowExceeded, ModelNotFound, RequestError, UpstreamUnavailable
from router.features import RequestFeatures, Signals
from router.hints import Hints
from router.policy import AliasPolicy, RetryPolicy, RouterPolicy
from router.routes import RouteMatch


@dataclass(frozen=True, slots=True)
class Candidate:
    model: str
    kept: bool
    reason: str
    estimated_cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What routing chose and why, plus the call settings of the policy it was made under."""

    alias: str
    tier: Tier
    classified_tier: Tier
    score: float
    task: str
    escalated: str | None
    chain: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    policy_version: str
    hints_applied: frozenset[str] = frozenset()
    hints_ignored: frozenset[str] = frozenset()
    pinned: bool = False
    """The request named a model id: that model only, retried but never replaced (see `pinned`)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    deadline_s: float = 120.0
    context_window_fallback: bool = True
    content_policy_fallback: str | None = None
    route: RouteMatch | None = None
    """The semantic route match, when the alias declares routes (`route.route` None: the alias's tiers)."""

    @property
    def route_name(self) -> str | None:
        return self.route.route if self.route is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `POST /v1/route` and the decision log."""
        return {
            "alias": self.alias, "tier": int(self.tier), "classified_tier": int(self.classified_tier),
            "score": self.score, "task": self.task, "escalated": self.escalated, "chain": list(self.chain),
            "candidates": [{"model": c.model, "kept": c.kept, "reason": c.reason,
                            "estimated_cost_usd": c.estimated_cost_usd} for c in self.candidates],
            "policy_version": self.policy_version, "pinned": self.pinned,
            "hints_applied": sorted(self.hints_applied), "hints_ignored": sorted(self.hints_ignored),
            "route": self.route.to_dict() if self.route is not None else None,
        }


def _tier(alias: AliasPolicy, signals: Signals, hints: Hints, allowed: frozenset[str],
          tier_cap: Tier | None = None) -> tuple[Tier, str | None]:
    tier, why = signals.tier, None
    if alias.escalation.on_uncertain and signals.is_uncertain(alias.escalation.uncertainty_margin):
        why = "classifier uncertain"
    elif hints.escalate and "escalate" in allowed:
        why = "client asked"
    if why is not None and tier < Tier.COMPLEX:
        tier = Tier(tier + 1)
    elif why is not None:
        why = None
    if hints.max_tier is not None and "max_tier" in allowed and tier > hints.max_tier:
        tier = hints.max_tier
    if tier_cap is not None and tier > tier_cap:  # the operator's cap (a key's max tier, a spent budget)
        tier = tier_cap
    return alias.resolve_tier(tier), why


def _chain(policy: RouterPolicy, alias: AliasPolicy, tier: Tier, specs: Mapping[str, ModelSpec]) -> list[str]:
    chain = list(alias.tiers[tier])
    if alias.local_first:
        local = [m for m in chain if m in specs and specs[m].is_local]
        chain = local + [m for m in chain if m not in local]
    if policy.default_model not in chain:
        chain.append(policy.default_model)
    return chain


def _load_ratio(model: str, specs: Mapping[str, ModelSpec], snapshot: Mapping[str, ModelStats]) -> float:
    stats = snapshot.get(model)
    return stats.in_flight / specs[model].max_concurrency if stats is not None else 0.0


def _order(kept: list[str], specs: Mapping[str, ModelSpec], snapshot: Mapping[str, ModelStats]) -> list[str]:
    """Runs of adjacent equal models (same prices and tags) go least loaded first; order is stable."""
    out: list[str] = []
    run: list[str] = []
    for model in kept:
        if run and (specs[run[0]].price, specs[run[0]].tags) != (specs[model].price, specs[model].tags):
            out.extend(sorted(run, key=lambda m: _load_ratio(m, specs, snapshot)))
            run = []
        run.append(model)
    out.extend(sorted(run, key=lambda m: _load_ratio(m, specs, snapshot)))
    return out


def _no_route(alias_name: str, skipped: list[tuple[str, list[Verdict]]]) -> Exception:
    detail = "; ".join(f"{m}: {', '.join(v.reason for v in vs)}" for m, vs in skipped)
    checks = {v.check for _, vs in skipped for v in vs if v.kind == "hard"}
    if checks == {"context"}:
        return ContextWindowExceeded(f"the request does not fit any model of {alias_name!r} ({detail})",
                                     param="messages")
    if "availability" in checks:
        return UpstreamUnavailable(f"no available model can serve this request ({detail})")
    return RequestError(f"no model of {alias_name!r} can serve this request ({detail})", code="no_eligible_model")


def select(policy: RouterPolicy, alias: str, signals: Signals, features: RequestFeatures,
           snapshot: Mapping[str, ModelStats], specs: Mapping[str, ModelSpec], hints: Hints | None = None, *,
           policy_version: str = "", breakers: Mapping[str, str] | None = None,
           tier_cap: Tier | None = None, route: RouteMatch | None = None) -> Decision:
    """Choose the ordered chain for one request. `breakers` maps model id to breaker state ("open"...);
    a matched semantic `route` replaces the alias's tiers with the route's (its constraints stay).

    Raises `ModelNotFound` for an unknown alias, `ContextWindowExceeded` when no model's window fits,
    `RequestError` when no model has the needed capabilities, `UpstreamUnavailable` when none is
    available.
    """
    hints = hints or Hints()
    alias_policy = policy.aliases.get(alias)
    if alias_policy is None:
        raise ModelNotFound(f"the model {alias!r} does not exist", param="model")
    if route is not None and route.route is not None:
        alias_policy = alias_policy.route_policies[route.route]
    allowed = frozenset(policy.hints.allowed)
    tier, escalated = _tier(alias_policy, signals, hints, allowed, tier_cap)
    latency = alias_policy.latency
    if hints.latency_class is not None and "latency_class" in allowed:
        latency = policy.latency_classes.get(hints.latency_class, latency)
    caps = [c for c in (alias_policy.max_cost_usd,
                        hints.max_cost_usd if "max_cost_usd" in allowed else None) if c is not None]
    ctx = CheckContext(features=features, assumed_output_tokens=policy.assumed_output_tokens,
                       cost_cap_usd=min(caps) if caps else None, latency=latency, breakers=breakers or {})

    candidates: list[Candidate] = []
    kept: list[str] = []
    demoted: list[str] = []
    last_resort: list[str] = []
    skipped: list[tuple[str, list[Verdict]]] = []
    for model in _chain(policy, alias_policy, tier, specs):
        spec = specs.get(model)
        if spec is None:
            verdicts = [Verdict("availability", "hard", "not in the registry")]
            candidates.append(Candidate(model, False, "skipped: not in the registry"))
            skipped.append((model, verdicts))
            continue
        verdicts = run_checks(ctx, spec, snapshot.get(model))
        cost = estimate_cost(ctx, spec)
        is_default = model == policy.default_model
        blocking = [v for v in verdicts if v.kind == "hard" or (v.kind == "soft" and not is_default)]
        reasons = ", ".join(v.reason for v in verdicts)
        if blocking:
            candidates.append(Candidate(model, False, f"skipped: {reasons}", cost))
            skipped.append((model, verdicts))
        elif verdicts and is_default and any(v.kind == "soft" for v in verdicts):
            candidates.append(Candidate(model, True, f"kept as last resort despite: {reasons}", cost))
            last_resort.append(model)
        elif verdicts:
            candidates.append(Candidate(model, True, f"demoted: {reasons}", cost))
            demoted.append(model)
        else:
            candidates.append(Candidate(model, True, "fits", cost))
            kept.append(model)
    appended = policy.default_model not in alias_policy.tiers[tier]
    if appended and policy.default_model in kept:
        kept.remove(policy.default_model)
        last_resort.append(policy.default_model)
    chain = _order(kept, specs, snapshot) + demoted + last_resort
    if not chain:
        raise _no_route(alias, skipped)
    given = hints.given()
    return Decision(
        alias=alias, tier=tier, classified_tier=signals.tier, score=signals.score, task=signals.task,
        escalated=escalated, chain=tuple(chain), candidates=tuple(candidates), policy_version=policy_version,
        hints_applied=given & allowed, hints_ignored=given - allowed, retry=policy.retry,
        deadline_s=policy.deadline_s, context_window_fallback=policy.context_window_fallback,
        content_policy_fallback=policy.content_policy_fallback, route=route)


def pinned(policy: RouterPolicy, model: str, *, policy_version: str = "") -> Decision:
    """The decision for a request that names a model id rather than an alias: no classification,
    no fallback to other models; the policy's retries, deadline and breakers still apply."""
    return Decision(
        alias=model, tier=Tier.SIMPLE, classified_tier=Tier.SIMPLE, score=0.0, task="", escalated=None,
        chain=(model,), candidates=(Candidate(model, True, "named by the request"),),
        policy_version=policy_version, pinned=True, retry=policy.retry, deadline_s=policy.deadline_s,
        context_window_fallback=False, content_policy_fallback=None)

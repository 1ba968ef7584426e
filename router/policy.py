"""The routing part of the policy YAML: aliases that map tiers to ordered model chains, plus the
constraints, escalation, retries, breakers and deadline that decide how a chain is chosen and called.

Every field has a default, so a policy that names only `default_model` and `aliases` is complete.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from registry import Tier

LatencyClass = Literal["interactive", "standard", "batch"]
HintName = Literal["max_tier", "max_cost_usd", "latency_class", "escalate"]
ALL_HINTS: tuple[HintName, ...] = ("max_tier", "max_cost_usd", "latency_class", "escalate")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class LatencyTarget(_Frozen):
    """Judge a candidate by its live latency. Models with too few samples are not judged."""

    p99_ms: float | None = Field(None, gt=0, description="Live p99 of whole-request latency.")
    ttft_p99_ms: float | None = Field(None, gt=0, description="Live p99 of time to first token.")
    action: Literal["skip", "demote"] = Field(
        "demote", description="`skip` drops a slow model; `demote` moves it after the models on target.")
    min_samples: int = Field(20, ge=1, description="Fewer live samples than this: no verdict.")


class Escalation(_Frozen):
    on_uncertain: bool = Field(True, description="Go one tier up when the classifier is uncertain.")
    uncertainty_margin: float = Field(
        0.5, ge=0, le=1,
        description="A top tier probability below this is uncertain (the gateway passes it to the classifier).")


def _check_tiers(value: dict[Tier, tuple[str, ...]], owner: str = "an alias") -> dict[Tier, tuple[str, ...]]:
    if not value:
        raise ValueError(f"{owner} needs at least one tier")
    for tier, chain in value.items():
        if not chain:
            raise ValueError(f"tier {int(tier)} has an empty model list")
        if len(set(chain)) != len(chain):
            raise ValueError(f"tier {int(tier)} lists a model twice")
    return value


class RoutePolicy(_Frozen):
    """A semantic route of an alias: requests about this go to its own tiers (or one chain).

    Matched on the request embedding (`router.routes`); inside the route, the complexity tier still
    picks the tier's chain, as for the alias itself."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                      description="Shown in `x-turnout-route`, the decision log and the metrics.")
    description: str = Field("", description="One line saying what the route is about (embedded like an example).")
    examples: tuple[str, ...] | None = Field(
        None, description="Example requests; needed unless `library` names a built-in route to extend.")
    library: str | None = Field(
        None, description="A built-in route whose examples this route extends; by default the one its own "
        "examples sit in, when that is clear; `none`: its own examples only.")
    threshold: float | None = Field(
        None, gt=0, lt=1, description="Least match score (0-1) to take this route; default 0.3 (chosen by "
                                   "cross-validation on the library).")
    tiers: dict[Tier, tuple[str, ...]] | None = Field(
        None, description="Tier to an ordered list of model ids, like the alias's own.")
    chain: tuple[str, ...] | None = Field(None, description="One ordered list of model ids for every tier.")

    @field_validator("name")
    @classmethod
    def _not_none(cls, value: str) -> str:
        if value == "none":
            raise ValueError("`none` is reserved: it names the fallback to the alias's own tiers")
        return value

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            if not value:
                raise ValueError("a route needs at least one example (or omit the key and name a `library`)")
            if any(not e.strip() for e in value):
                raise ValueError("an example is empty")
        return value

    @field_validator("library")
    @classmethod
    def _library(cls, value: str | None) -> str | None:
        from router.library import library_names

        if value is not None and value != "none" and value not in library_names():
            raise ValueError(f"unknown library route {value!r}; known: {', '.join(library_names())} (or `none`)")
        return value

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: dict[Tier, tuple[str, ...]] | None) -> dict[Tier, tuple[str, ...]] | None:
        return None if value is None else _check_tiers(value, "a route")

    @field_validator("chain")
    @classmethod
    def _chain(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            _check_tiers({Tier.SIMPLE: value})
        return value

    @model_validator(mode="after")
    def _complete(self) -> RoutePolicy:
        if (self.tiers is None) == (self.chain is None):
            raise ValueError("a route needs exactly one of `tiers` or `chain`")
        if self.examples is None and self.library is None:
            raise ValueError("a route needs `examples`, a `library` route to extend, or both")
        return self

    @property
    def route_tiers(self) -> dict[Tier, tuple[str, ...]]:
        """`tiers`, or the `chain` as tier 1 (which then serves every tier, see `AliasPolicy.resolve_tier`)."""
        return self.tiers if self.tiers is not None else {Tier.SIMPLE: self.chain or ()}


class AliasPolicy(_Frozen):
    """A router alias (`auto`, `fast`, ...): for each tier, the candidate models in order."""

    description: str = ""
    tiers: dict[Tier, tuple[str, ...]] = Field(
        description="Tier (1, 2, 3) to an ordered list of model ids; the router's default ends each chain.")
    routes: tuple[RoutePolicy, ...] = Field(
        (), description="Semantic routes, best match first; a request matching none goes to `tiers`.")
    max_cost_usd: float | None = Field(
        None, gt=0, description="Skip models whose estimated cost for the request is over this.")
    latency: LatencyTarget | None = Field(None, description="Latency target against live p99 / TTFT.")
    local_first: bool = Field(
        False, description="Try the tier's `local` models first, then escalate to its hosted ones.")
    escalation: Escalation = Escalation()

    @field_validator("tiers")
    @classmethod
    def _non_empty(cls, value: dict[Tier, tuple[str, ...]]) -> dict[Tier, tuple[str, ...]]:
        return _check_tiers(value)

    @field_validator("routes")
    @classmethod
    def _unique_routes(cls, value: tuple[RoutePolicy, ...]) -> tuple[RoutePolicy, ...]:
        names = [r.name for r in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"route {name!r} is declared twice")
        return value

    def first_model(self) -> str:
        return self.tiers[min(self.tiers)][0]

    @cached_property
    def route_policies(self) -> dict[str, AliasPolicy]:
        """Each route as an alias of its own: the route's tiers, this alias's constraints. Built once."""
        return {r.name: self.model_copy(update={"tiers": r.route_tiers, "routes": ()}) for r in self.routes}

    def resolve_tier(self, tier: Tier) -> Tier:
        """The tier whose chain serves `tier`: itself, else the nearest above, else the nearest below."""
        if tier in self.tiers:
            return tier
        above = [t for t in self.tiers if t > tier]
        return min(above) if above else max(self.tiers)


class RetryPolicy(_Frozen):
    """Retries of one model on retryable errors (5xx, timeouts, 429) before moving to the next."""

    max_attempts_per_model: int = Field(2, ge=1, le=10, description="Calls of one model, the first included.")
    backoff_base_s: float = Field(0.2, ge=0, description="Delay before the first retry; doubles each retry.")
    backoff_max_s: float = Field(5.0, ge=0, description="Upper bound of one backoff delay.")
    jitter: float = Field(0.5, ge=0, le=1, description="Fraction of each delay drawn at random (1 = full jitter).")
    max_retry_after_s: float = Field(
        10.0, ge=0, description="A longer `Retry-After` moves on to the next model instead of waiting.")


class BreakerPolicy(_Frozen):
    """One circuit breaker per model (per replica, in memory unless `shared`)."""

    fail_max: int = Field(5, ge=1, description="Consecutive failures that open the breaker.")
    reset_timeout_s: float = Field(30.0, gt=0, le=86_400, description="Seconds open before one probe is let "
                                                                       "through (at most a day).")
    shared: bool = Field(
        False, description="Share openings across replicas through the policy's Redis (each replica probes alone).")
    sync_interval_s: float = Field(1.0, gt=0, description="How often a replica exchanges openings with Redis.")


class HintsPolicy(_Frozen):
    allowed: tuple[HintName, ...] = Field(
        ALL_HINTS, description="Client hints honoured; others are parsed but ignored (and reported).")


def _default_latency_classes() -> dict[LatencyClass, LatencyTarget]:
    return {"interactive": LatencyTarget(p99_ms=15000, ttft_p99_ms=2000, action="skip"),
            "batch": LatencyTarget()}


class RouterPolicy(_Frozen):
    default_model: str = Field(description="The reliable default that ends every chain.")
    aliases: dict[str, AliasPolicy] = Field(default_factory=dict)
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    deadline_s: float = Field(120.0, gt=0, description="Overall time for a request, retries and fallbacks "
                                                       "included (streams: until the first content chunk).")
    context_window_fallback: bool = Field(
        True, description="On `context_length_exceeded`, try the next model with a larger window.")
    content_policy_fallback: str | None = Field(
        None, description="Model tried once when an upstream refuses the content; none: the refusal stands.")
    assumed_output_tokens: int = Field(
        256, gt=0, description="Output tokens assumed for cost estimates when a request sets no max_tokens.")
    latency_classes: dict[LatencyClass, LatencyTarget] = Field(
        default_factory=_default_latency_classes,
        description="Latency target a client's `latency_class` hint selects, replacing the alias's.")
    hints: HintsPolicy = HintsPolicy()

    @model_validator(mode="after")
    def _backoff_bounds(self) -> RouterPolicy:
        if self.retry.backoff_max_s < self.retry.backoff_base_s:
            raise ValueError("retry.backoff_max_s must be at least retry.backoff_base_s")
        return self

    def model_references(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every model id the router names, with its path inside `router`."""
        refs: list[tuple[tuple[str | int, ...], str]] = [(("default_model",), self.default_model)]
        if self.content_policy_fallback is not None:
            refs.append((("content_policy_fallback",), self.content_policy_fallback))
        for name, alias in self.aliases.items():
            for tier, chain in alias.tiers.items():
                refs.extend((("aliases", name, "tiers", int(tier), i), m) for i, m in enumerate(chain))
            for r, route in enumerate(alias.routes):
                base = ("aliases", name, "routes", r)
                if route.chain is not None:
                    refs.extend(((*base, "chain", i), m) for i, m in enumerate(route.chain))
                for tier, chain in (route.tiers or {}).items():
                    refs.extend(((*base, "tiers", int(tier), i), m) for i, m in enumerate(chain))
        return refs

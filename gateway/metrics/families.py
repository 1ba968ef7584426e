"""Every Turnout metric, declared in one place; `Families` is the collector that exports them.

Durations are in seconds, costs in US dollars, all names start with `turnout_`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from prometheus_client.metrics_core import Metric

from gateway.metrics.vectors import CounterVec, GaugeVec, HistogramVec

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
                   300.0)
"""5 ms to 5 minutes: whole requests and time to first token."""
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Time spent in the gateway itself: classifier, cache, routing, serialisation."""
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Classifier and Redis calls."""
SIMILARITY_BUCKETS = (0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1.0)


@dataclass(frozen=True, slots=True, eq=False)
class Families:
    """All of them; also the collector that exports them (`registry.register(families)`)."""

    requests: CounterVec
    request_errors: CounterVec
    request_duration: HistogramVec
    ttft: HistogramVec
    overhead: HistogramVec
    attempts: CounterVec
    fallbacks: CounterVec
    tokens: CounterVec
    cost: CounterVec
    tenant_cost: CounterVec | None
    cache_lookups: CounterVec
    cache_similarity: HistogramVec
    classifier_decisions: CounterVec
    classifier_duration: HistogramVec
    classifier_uncertain: CounterVec
    semantic_routes: CounterVec
    breaker_state: GaugeVec
    breaker_transitions: CounterVec
    policy_reloads: CounterVec
    policy_reload_success: GaugeVec
    policy_reload_time: GaugeVec
    policy: GaugeVec
    redis_errors: CounterVec
    guardrails: CounterVec
    redis_latency: HistogramVec

    def describe(self) -> Iterable[Metric]:
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        for field in fields(self):
            vector = getattr(self, field.name)
            if vector is not None:
                yield vector.family()


def build_families(*, cost_by_tenant: bool) -> Families:
    return Families(
        requests=CounterVec("turnout_requests", "Requests by endpoint, route alias, answering model, tier and "
                            "HTTP status.", ["endpoint", "route", "model", "tier", "status"]),
        request_errors=CounterVec("turnout_request_errors", "Failed requests by route and error class.",
                                  ["route", "error_class"]),
        request_duration=HistogramVec("turnout_request_duration_seconds", "Whole request, to the last byte.",
                                      LATENCY_BUCKETS, ["route", "model"]),
        ttft=HistogramVec("turnout_time_to_first_token_seconds", "Streams: request start to first content chunk.",
                          LATENCY_BUCKETS, ["model"]),
        overhead=HistogramVec("turnout_gateway_overhead_seconds", "Request time not spent waiting on an upstream.",
                              OVERHEAD_BUCKETS, ["endpoint"]),
        attempts=CounterVec("turnout_upstream_attempts", "Upstream calls by model and outcome (`ok` or an error "
                            "class).", ["model", "outcome"]),
        fallbacks=CounterVec("turnout_fallbacks", "Moves down a chain, by from-model, to-model and reason.",
                             ["from_model", "to_model", "reason"]),
        tokens=CounterVec("turnout_tokens", "Tokens by model and direction (`in` prompt, `out` completion).",
                          ["model", "direction"]),
        cost=CounterVec("turnout_cost_usd", "Estimated cost in US dollars by model.", ["model"]),
        tenant_cost=CounterVec("turnout_tenant_cost_usd", "Estimated cost in US dollars by tenant.", ["tenant"])
        if cost_by_tenant else None,
        cache_lookups=CounterVec("turnout_cache_lookups", "Response cache lookups by layer (`exact`, `semantic`) "
                                 "and result (`hit`, `miss`).", ["layer", "result"]),
        cache_similarity=HistogramVec("turnout_cache_hit_similarity", "Cosine similarity of semantic cache hits.",
                                      SIMILARITY_BUCKETS),
        classifier_decisions=CounterVec("turnout_classifier_decisions", "Classifier decisions by tier and task.",
                                        ["tier", "task"]),
        classifier_duration=HistogramVec("turnout_classifier_duration_seconds", "Time to classify one request.",
                                         FAST_BUCKETS),
        classifier_uncertain=CounterVec("turnout_classifier_uncertain", "Decisions below the uncertainty margin, "
                                        "by the tier decided.", ["tier"]),
        semantic_routes=CounterVec("turnout_semantic_route_requests", "Requests to aliases with semantic routes, "
                                   "by alias and the route matched (`none`: the alias's own tiers).",
                                   ["route", "semantic_route"]),
        breaker_state=GaugeVec("turnout_breaker_state", "1 for the current state of each model's breaker.",
                               ["model", "state"]),
        breaker_transitions=CounterVec("turnout_breaker_transitions", "Breaker state changes.",
                                       ["model", "from_state", "to_state"]),
        policy_reloads=CounterVec("turnout_policy_reloads", "Policy loads and reloads by result (`ok`, `error`).",
                                  ["result"]),
        policy_reload_success=GaugeVec("turnout_policy_last_reload_success", "1 if the last policy (re)load was "
                                       "accepted, 0 if it was rejected (the previous policy keeps running)."),
        policy_reload_time=GaugeVec("turnout_policy_last_reload_timestamp_seconds", "When the policy was last "
                                    "(re)loaded, accepted or not."),
        policy=GaugeVec("turnout_policy_info", "The running policy (value 1).", ["version"]),
        redis_errors=CounterVec("turnout_redis_errors", "Failed Redis calls by component.", ["component"]),
        guardrails=CounterVec("turnout_guardrail_triggers", "Guardrail findings by guardrail and action "
                              "(`block`, `redact`, `flag`).", ["guardrail", "action"]),
        redis_latency=HistogramVec("turnout_redis_latency_seconds", "Redis call latency by component.",
                                   FAST_BUCKETS, ["component"]),
    )

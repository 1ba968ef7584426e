"""Every Turnout metric, declared in one place on a registry of its own (never the global default).

Durations are in seconds, costs in US dollars, all names start with `turnout_`.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
                   300.0)
"""5 ms to 5 minutes: whole requests and time to first token."""
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Time spent in the gateway itself: classifier, cache, routing, serialisation."""
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Classifier and Redis calls."""
SIMILARITY_BUCKETS = (0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1.0)


@dataclass(frozen=True, slots=True)
class Families:
    requests: Counter
    request_errors: Counter
    request_duration: Histogram
    ttft: Histogram
    overhead: Histogram
    attempts: Counter
    fallbacks: Counter
    tokens: Counter
    cost: Counter
    tenant_cost: Counter | None
    cache_lookups: Counter
    cache_similarity: Histogram
    classifier_decisions: Counter
    classifier_duration: Histogram
    classifier_uncertain: Counter
    breaker_state: Gauge
    breaker_transitions: Counter
    policy_reloads: Counter
    policy_reload_success: Gauge
    policy_reload_time: Gauge
    policy: Info
    redis_errors: Counter
    redis_latency: Histogram


def build_families(registry: CollectorRegistry, *, cost_by_tenant: bool) -> Families:
    r = registry
    return Families(
        requests=Counter("turnout_requests", "Requests by endpoint, route alias, answering model, tier and "
                         "HTTP status.", ["endpoint", "route", "model", "tier", "status"], registry=r),
        request_errors=Counter("turnout_request_errors", "Failed requests by route and error class.",
                               ["route", "error_class"], registry=r),
        request_duration=Histogram("turnout_request_duration_seconds", "Whole request, to the last byte.",
                                   ["route", "model"], buckets=LATENCY_BUCKETS, registry=r),
        ttft=Histogram("turnout_time_to_first_token_seconds", "Streams: request start to first content chunk.",
                       ["model"], buckets=LATENCY_BUCKETS, registry=r),
        overhead=Histogram("turnout_gateway_overhead_seconds", "Request time not spent waiting on an upstream.",
                           ["endpoint"], buckets=OVERHEAD_BUCKETS, registry=r),
        attempts=Counter("turnout_upstream_attempts", "Upstream calls by model and outcome (`ok` or an error "
                         "class).", ["model", "outcome"], registry=r),
        fallbacks=Counter("turnout_fallbacks", "Moves down a chain, by from-model, to-model and reason.",
                          ["from_model", "to_model", "reason"], registry=r),
        tokens=Counter("turnout_tokens", "Tokens by model and direction (`in` prompt, `out` completion).",
                       ["model", "direction"], registry=r),
        cost=Counter("turnout_cost_usd", "Estimated cost in US dollars by model.", ["model"], registry=r),
        tenant_cost=Counter("turnout_tenant_cost_usd", "Estimated cost in US dollars by tenant.", ["tenant"],
                            registry=r) if cost_by_tenant else None,
        cache_lookups=Counter("turnout_cache_lookups", "Response cache lookups by layer (`exact`, `semantic`) "
                              "and result (`hit`, `miss`).", ["layer", "result"], registry=r),
        cache_similarity=Histogram("turnout_cache_hit_similarity", "Cosine similarity of semantic cache hits.",
                                   buckets=SIMILARITY_BUCKETS, registry=r),
        classifier_decisions=Counter("turnout_classifier_decisions", "Classifier decisions by tier and task.",
                                     ["tier", "task"], registry=r),
        classifier_duration=Histogram("turnout_classifier_duration_seconds", "Time to classify one request.",
                                      buckets=FAST_BUCKETS, registry=r),
        classifier_uncertain=Counter("turnout_classifier_uncertain", "Decisions below the uncertainty margin, "
                                     "by the tier decided.", ["tier"], registry=r),
        breaker_state=Gauge("turnout_breaker_state", "1 for the current state of each model's breaker.",
                            ["model", "state"], registry=r),
        breaker_transitions=Counter("turnout_breaker_transitions", "Breaker state changes.",
                                    ["model", "from_state", "to_state"], registry=r),
        policy_reloads=Counter("turnout_policy_reloads", "Policy loads and reloads by result (`ok`, `error`).",
                               ["result"], registry=r),
        policy_reload_success=Gauge("turnout_policy_last_reload_success", "1 if the last policy (re)load was "
                                    "accepted, 0 if it was rejected (the previous policy keeps running).",
                                    registry=r),
        policy_reload_time=Gauge("turnout_policy_last_reload_timestamp_seconds", "When the policy was last "
                                 "(re)loaded, accepted or not.", registry=r),
        policy=Info("turnout_policy", "The running policy.", registry=r),
        redis_errors=Counter("turnout_redis_errors", "Failed Redis calls by component.", ["component"],
                             registry=r),
        redis_latency=Histogram("turnout_redis_latency_seconds", "Redis call latency by component.",
                                ["component"], buckets=FAST_BUCKETS, registry=r),
    )

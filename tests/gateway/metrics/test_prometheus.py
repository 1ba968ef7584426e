from __future__ import annotations

from collections.abc import Mapping

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import load_policy
from gateway.metrics import PrometheusMetrics
from gateway.record import Observer, RequestRecord
from gateway.settings import DEFAULT_POLICY
from tests.gateway.records import routed_record

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: PrometheusMetrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def record(**overrides: object) -> RequestRecord:
    fields: dict[str, object] = {
        "request_id": "r1", "endpoint": "chat", "route": "auto", "model": "small", "tier": 1, "task": "code",
        "classifier_ms": 2.0, "attempts": [("small", "ok", 80.0)], "tokens_in": 12, "tokens_out": 30,
        "cost_usd": 0.002, "latency_ms": 100.0, "upstream_ms": 80.0, "cache": "miss"}
    fields.update(overrides)
    return routed_record(**fields)


@pytest.fixture
def metrics() -> PrometheusMetrics:
    return PrometheusMetrics(aliases=["auto", "small", "big"], models=["small", "big"])


def test_a_request_is_counted_by_route_model_tier_and_status(metrics: PrometheusMetrics) -> None:
    metrics.observe(record())
    metrics.observe(record(tier=None, model=None, status=502, error_class="AllAttemptsFailed", classifier_ms=None))
    s = scrape(metrics)
    assert value(s, "turnout_requests_total", endpoint="chat", route="auto", model="small", tier="1",
                 status="200") == 1
    assert value(s, "turnout_requests_total", endpoint="chat", route="auto", model="none", tier="none",
                 status="502") == 1
    assert value(s, "turnout_request_errors_total", route="auto", error_class="AllAttemptsFailed") == 1
    assert value(s, "turnout_request_duration_seconds_count", route="auto", model="small") == 1
    assert value(s, "turnout_request_duration_seconds_bucket", route="auto", model="small", le="0.1") == 1
    assert value(s, "turnout_request_duration_seconds_bucket", route="auto", model="small", le="0.05") == 0


def test_unknown_names_from_clients_become_other(metrics: PrometheusMetrics) -> None:
    for i in range(50):
        metrics.observe(record(route=f"made-up-{i}", model=f"m{i}", task=f"t{i}", error_class=f"E{i}",
                               attempts=[(f"m{i}", f"Weird{i}", 1.0), ("big", "ok", 1.0)]))
    s = scrape(metrics)
    assert value(s, "turnout_requests_total", endpoint="chat", route="other", model="other", tier="1",
                 status="200") == 50
    assert value(s, "turnout_upstream_attempts_total", model="other", outcome="other") == 50
    assert value(s, "turnout_fallbacks_total", from_model="other", to_model="big", reason="other") == 50
    assert value(s, "turnout_classifier_decisions_total", tier="1", task="other") == 50
    assert value(s, "turnout_request_errors_total", route="other", error_class="other") == 50
    label_values = {v for _, labels in s for _, v in labels}
    assert not any(v.startswith(("made-up", "m1", "t1", "E1", "Weird", "why")) for v in label_values)


def test_attempts_fallbacks_tokens_and_cost(metrics: PrometheusMetrics) -> None:
    metrics.observe(record(model="big", attempts=[("small", "RateLimited", 5.0), ("small", "UpstreamTimeout", 5.0),
                                                  ("big", "ok", 50.0)], cost_usd=0.25))
    s = scrape(metrics)
    assert value(s, "turnout_upstream_attempts_total", model="small", outcome="RateLimited") == 1
    assert value(s, "turnout_upstream_attempts_total", model="small", outcome="UpstreamTimeout") == 1
    assert value(s, "turnout_upstream_attempts_total", model="big", outcome="ok") == 1
    assert value(s, "turnout_fallbacks_total", from_model="small", to_model="big", reason="UpstreamTimeout") == 1
    assert value(s, "turnout_tokens_total", model="big", direction="in") == 12
    assert value(s, "turnout_tokens_total", model="big", direction="out") == 30
    assert value(s, "turnout_cost_usd_total", model="big") == pytest.approx(0.25)
    assert "turnout_tenant_cost_usd_total" not in names(s)


def test_cost_by_tenant_is_opt_in_and_closed() -> None:
    metrics = PrometheusMetrics(aliases=["auto"], models=["small"], tenants=["acme"], cost_by_tenant=True)
    metrics.observe(record(tenant="acme", cost_usd=1.5))
    metrics.observe(record(tenant="someone-else", cost_usd=0.5))
    s = scrape(metrics)
    assert value(s, "turnout_tenant_cost_usd_total", tenant="acme") == pytest.approx(1.5)
    assert value(s, "turnout_tenant_cost_usd_total", tenant="other") == pytest.approx(0.5)


def test_overhead_is_latency_minus_upstream_time(metrics: PrometheusMetrics) -> None:
    metrics.observe(record(latency_ms=1000.0, upstream_ms=996.0))
    s = scrape(metrics)
    assert value(s, "turnout_gateway_overhead_seconds_sum", endpoint="chat") == pytest.approx(0.004)
    assert value(s, "turnout_gateway_overhead_seconds_bucket", endpoint="chat", le="0.005") == 1
    assert value(s, "turnout_gateway_overhead_seconds_bucket", endpoint="chat", le="0.0025") == 0


def test_ttft_only_for_records_that_have_one(metrics: PrometheusMetrics) -> None:
    metrics.observe(record())
    metrics.observe(record(stream=True, ttft_ms=40.0))
    s = scrape(metrics)
    assert value(s, "turnout_time_to_first_token_seconds_count", model="small") == 1
    assert value(s, "turnout_time_to_first_token_seconds_sum", model="small") == pytest.approx(0.04)


def test_cache_lookups_by_layer_and_similarity_of_hits(metrics: PrometheusMetrics) -> None:
    metrics.observe(record(cache="hit-exact", cache_similarity=1.0, attempts=[]))
    metrics.observe(record(cache="hit-semantic", cache_similarity=0.95, attempts=[]))
    metrics.observe(record(cache="miss"))
    metrics.observe(record(cache="bypass"))
    s = scrape(metrics)
    assert value(s, "turnout_cache_lookups_total", layer="exact", result="hit") == 1
    assert value(s, "turnout_cache_lookups_total", layer="exact", result="miss") == 2
    assert value(s, "turnout_cache_lookups_total", layer="semantic", result="hit") == 1
    assert value(s, "turnout_cache_lookups_total", layer="semantic", result="miss") == 1
    assert value(s, "turnout_cache_hit_similarity_count") == 2
    assert value(s, "turnout_cache_hit_similarity_bucket", le="0.96") == 1


def test_classifier_decisions_duration_and_uncertainty(metrics: PrometheusMetrics) -> None:
    metrics.observe(record(tier=2, task="math", uncertain=True, classifier_ms=3.0))
    metrics.observe(record(tier=2, task="math", classifier_ms=None))
    s = scrape(metrics)
    assert value(s, "turnout_classifier_decisions_total", tier="2", task="math") == 1
    assert value(s, "turnout_classifier_uncertain_total", tier="2") == 1
    assert value(s, "turnout_classifier_duration_seconds_sum") == pytest.approx(0.003)


def test_breaker_state_starts_closed_and_follows_changes(metrics: PrometheusMetrics) -> None:
    s = scrape(metrics)
    assert value(s, "turnout_breaker_state", model="big", state="closed") == 1
    metrics.breaker_changed("big", "closed", "open")
    metrics.breaker_changed("big", "open", "half-open")
    s = scrape(metrics)
    assert value(s, "turnout_breaker_state", model="big", state="closed") == 0
    assert value(s, "turnout_breaker_state", model="big", state="half-open") == 1
    assert value(s, "turnout_breaker_state", model="big", state="open") == 0
    assert value(s, "turnout_breaker_transitions_total", model="big", from_state="closed", to_state="open") == 1


def test_inflight_is_read_at_scrape_time(metrics: PrometheusMetrics) -> None:
    counts: Mapping[str, int] = {"small": 3, "stranger": 2, "other-stranger": 1}
    metrics.read_inflight_from(lambda: counts)
    s = scrape(metrics)
    assert value(s, "turnout_inflight_requests", model="small") == 3
    assert value(s, "turnout_inflight_requests", model="big") == 0
    assert value(s, "turnout_inflight_requests", model="other") == 3


def test_policy_reloads_and_the_running_version() -> None:
    policy = load_policy(DEFAULT_POLICY)
    metrics = PrometheusMetrics.from_policy(policy)
    s = scrape(metrics)
    assert value(s, "turnout_policy_info", version=policy.version or "") == 1
    assert value(s, "turnout_policy_reloads_total", result="ok") == 1
    metrics.policy_loaded("broken", ok=False)
    s = scrape(metrics)
    assert value(s, "turnout_policy_reloads_total", result="error") == 1
    assert value(s, "turnout_policy_last_reload_success") == 0
    assert value(s, "turnout_policy_info", version=policy.version or "") == 1
    metrics.policy_loaded("v2", ok=True, aliases=["auto", "new-alias"], models=["new-model"])
    metrics.observe(record(route="new-alias", model="new-model"))
    s = scrape(metrics)
    assert value(s, "turnout_policy_info", version="v2") == 1
    assert value(s, "turnout_policy_last_reload_success") == 1
    assert value(s, "turnout_requests_total", endpoint="chat", route="new-alias", model="new-model", tier="1",
                 status="200") == 1
    assert value(s, "turnout_breaker_state", model="new-model", state="closed") == 1


def test_redis_errors_and_latency(metrics: PrometheusMetrics) -> None:
    metrics.redis_error("cache")
    metrics.redis_latency("cache", 0.002)
    s = scrape(metrics)
    assert value(s, "turnout_redis_errors_total", component="cache") == 1
    assert value(s, "turnout_redis_latency_seconds_count", component="cache") == 1


def test_instances_do_not_share_series_and_every_name_is_prefixed() -> None:
    first = PrometheusMetrics(aliases=["auto"], models=["small"])
    second = PrometheusMetrics(aliases=["auto"], models=["small"])
    first.observe(record())
    assert value(scrape(first), "turnout_requests_total", endpoint="chat", route="auto", model="small",
                 tier="1", status="200") == 1
    assert value(scrape(second), "turnout_requests_total", endpoint="chat", route="auto", model="small",
                 tier="1", status="200") == 0
    assert all(name.startswith("turnout_") for name in names(scrape(first)))


def test_it_is_an_observer(metrics: PrometheusMetrics) -> None:
    observer: Observer = metrics  # checked by mypy: the request path hands records to observers
    observer.observe(record())
    assert value(scrape(metrics), "turnout_requests_total", endpoint="chat", route="auto", model="small", tier="1",
                 status="200") == 1

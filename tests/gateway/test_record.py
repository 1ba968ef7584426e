"""The one request record: the gateway's fields around the router's `RouteRecord`, read, never copied."""

from __future__ import annotations

from gateway.record import RequestRecord
from tests.gateway.records import route_record


def test_the_record_reads_the_route_record_it_holds() -> None:
    route = route_record(tier=2, task="code", uncertain=True, chain=("small", "big"),
                         attempts=[("small", "RateLimited", 5.0), ("small", "UpstreamTimeout", 6.0),
                                   ("big", "ok", 40.0)],
                         tokens_in=12, tokens_out=30)
    record = RequestRecord(request_id="r1", endpoint="chat", route="auto", routed=route)
    assert record.model is None and record.tokens_out == 30
    route.model, route.cost_usd, route.ttft_ms = "big", 0.25, 12.5  # the executor writes on: the record sees it
    route.usage["completion_tokens"] = 31
    assert (record.model, record.cost_usd, record.ttft_ms, record.tokens_in, record.tokens_out) == \
        ("big", 0.25, 12.5, 12, 31)
    assert record.attempts is route.attempts
    assert [a.result for a in record.attempts] == ["RateLimited", "UpstreamTimeout", "ok"]
    assert record.fallbacks == [("small", "big", "UpstreamTimeout")]
    assert (record.tier, record.task, record.uncertain, record.chain) == (2, "code", True, ("small", "big"))
    assert record.decision is route.decision


def test_a_pinned_request_has_no_tier_and_a_cache_hit_no_route() -> None:
    pinned = RequestRecord(request_id="r", endpoint="chat", route="small", routed=route_record(tier=None))
    assert (pinned.tier, pinned.task, pinned.score, pinned.uncertain, pinned.semantic_route) == \
        (None, None, None, False, None)
    hit = RequestRecord(request_id="r", endpoint="chat", route="auto", cache="hit-exact", cached_model="small")
    assert (hit.model, hit.attempts, hit.fallbacks, hit.tokens_in, hit.cost_usd, hit.chain) == \
        ("small", [], [], 0, 0.0, ())


def test_the_log_line_fields_and_their_order() -> None:
    route = route_record(model="big", tier=2, chain=("small", "big"),
                         attempts=[("small", "RateLimited", 5.0), ("big", "ok", 40.0)], tokens_in=12, tokens_out=30)
    record = RequestRecord(request_id="r1", endpoint="chat", route="auto", routed=route, latency_ms=50.0,
                           upstream_ms=45.0, tenant="acme", cache="miss")
    assert list(record.to_log()) == [
        "alias", "pinned", "tier", "classified_tier", "score", "task", "escalated", "chain", "attempts", "model",
        "usage", "cost_usd", "ttft_ms", "stream_error", "policy_version", "request_id", "tenant", "status", "error",
        "stream", "cache", "tokens_in", "tokens_out", "latency_ms", "overhead_ms", "classifier_ms"]
    assert record.to_log()["overhead_ms"] == 5.0
    hit = RequestRecord(request_id="r2", endpoint="chat", route="auto", cache="hit-exact", cached_model="big")
    assert list(hit.to_log()) == ["alias", "request_id", "tenant", "status", "error", "stream", "cache", "tokens_in",
                                  "tokens_out", "latency_ms", "overhead_ms", "classifier_ms"]

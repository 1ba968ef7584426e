"""Cost of `PrometheusMetrics.observe` per request record, and of one `/metrics` render.

    .venv/bin/python benchmarks/metrics_observe.py [--records 200000]

Records: a plain answer, a fallback after a timeout with a stream, a cache hit (a realistic mix).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gateway.metrics import PrometheusMetrics
from gateway.record import RequestRecord

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' record builder
from tests.gateway.records import routed_record

MODELS = ["local-small", "local-medium", "claude-sim", "gpt-4o-mini", "gpt-4o"]


def records() -> list[RequestRecord]:
    plain = routed_record(request_id="a", endpoint="chat", route="auto", model="local-small", tier=1, task="chat",
                          cache="miss", attempts=[("local-small", "ok", 40.0)], tokens_in=120,
                          tokens_out=80, cost_usd=0.00002, latency_ms=45.0, upstream_ms=42.0, classifier_ms=1.5)
    fallback = routed_record(
        request_id="b", endpoint="chat", route="auto", model="claude-sim", tier=2, task="code", stream=True,
        cache="miss", attempts=[("local-medium", "UpstreamTimeout", 900.0), ("claude-sim", "ok", 700.0)],
        tokens_in=900, tokens_out=400,
        cost_usd=0.0087, latency_ms=1605.0, ttft_ms=1100.0, upstream_ms=1600.0, classifier_ms=2.0, uncertain=True)
    hit = RequestRecord(request_id="c", endpoint="chat", route="auto", cached_model="local-small",
                        cache="hit-semantic", cache_similarity=0.95, latency_ms=4.0)
    return [plain, fallback, hit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    metrics = PrometheusMetrics(aliases=["auto", *MODELS], models=MODELS, inflight=lambda: {"local-small": 3})
    mix = records()
    for record in mix * 100:  # warm: children bound, dicts sized
        metrics.observe(record)
    n = args.records // len(mix) * len(mix)
    start = time.perf_counter_ns()
    for _ in range(n // len(mix)):
        for record in mix:
            metrics.observe(record)
    per_observe = (time.perf_counter_ns() - start) / n
    renders = 50
    start = time.perf_counter_ns()
    for _ in range(renders):
        body, _ = metrics.render()
    per_render = (time.perf_counter_ns() - start) / renders / 1e6
    print(f"observe: {per_observe:,.0f} ns per record ({n:,} records: plain, fallback+stream, semantic hit)")
    lines = len(body.splitlines())
    print(f"render:  {per_render:.2f} ms for {len(body):,} bytes, {lines:,} lines")


if __name__ == "__main__":
    main()

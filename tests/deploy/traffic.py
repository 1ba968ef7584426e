"""Synthetic traffic: `PrometheusMetrics` fed with records like a busy gateway's, served on loopback.

Stands in for the gateway's own `GET /metrics` until it serves one: the same class, the same records
(fallbacks, 5xx, cache hits, streams, breaker trips, a rejected policy reload, Redis errors).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gateway.config import Policy
from gateway.metrics import PrometheusMetrics
from gateway.record import AttemptRecord, RequestRecord

PROVOKED_ALERTS = frozenset({"TurnoutBreakerOpen", "TurnoutFallbackRateHigh", "TurnoutErrorRateHigh",
                             "TurnoutOverheadP99High", "TurnoutRedisErrors", "TurnoutPolicyReloadFailed"})
"""The alerts this traffic provokes (with `for:` shortened to 0s)."""


def _ok(i: int) -> RequestRecord:
    stream = i % 2 == 0
    return RequestRecord(
        request_id=f"ok-{i}", endpoint="chat", route="auto", model="local-small", tier=1, score=0.2,
        task=("code", "chat", "math")[i % 3], uncertain=i % 7 == 0, stream=stream, cache="miss",
        attempts=(AttemptRecord("local-small", "ok", 40.0),), tokens_in=120, tokens_out=80, cost_usd=0.00002,
        latency_ms=45.0 if i % 20 else 130.0, ttft_ms=12.0 if stream else None,
        upstream_ms=42.0 if i % 20 else 50.0, classifier_ms=1.5, policy_version="deploy-1")


def _fallback(i: int) -> RequestRecord:
    return RequestRecord(
        request_id=f"fb-{i}", endpoint="chat", route="auto", model="claude-sim", tier=2, score=0.55,
        task="reasoning", stream=True, cache="miss",
        attempts=(AttemptRecord("local-medium", "UpstreamTimeout", 900.0), AttemptRecord("claude-sim", "ok", 700.0)),
        fallbacks=(("local-medium", "claude-sim", "UpstreamTimeout"),), tokens_in=900, tokens_out=400,
        cost_usd=0.0087, latency_ms=1605.0, ttft_ms=1100.0, upstream_ms=1600.0, classifier_ms=2.0)


def _failed(i: int) -> RequestRecord:
    return RequestRecord(
        request_id=f"err-{i}", endpoint="chat", route="auto", status=502, error_class="AllAttemptsFailed", tier=3,
        task="code", cache="miss",
        attempts=(AttemptRecord("claude-sim", "UpstreamError", 300.0),
                  AttemptRecord("local-medium", "CircuitOpen", 0.0)),
        fallbacks=(("claude-sim", "local-medium", "UpstreamError"),), latency_ms=310.0, upstream_ms=300.0,
        classifier_ms=2.5)


def _hit(i: int) -> RequestRecord:
    semantic = i % 2 == 1
    return RequestRecord(
        request_id=f"hit-{i}", endpoint="chat", route="auto", model="local-small", tier=1, task="chat",
        cache="hit-semantic" if semantic else "hit-exact", cache_similarity=0.93 if semantic else 1.0,
        latency_ms=4.0, classifier_ms=1.0)


def _refused(i: int) -> RequestRecord:
    return RequestRecord(
        request_id=f"bad-{i}", endpoint="chat", route="auto", status=400, error_class="ContextWindowExceeded",
        tier=1, task="summarisation", cache="bypass", latency_ms=3.0, classifier_ms=1.0)


_MIX = (_ok,) * 11 + (_fallback,) * 4 + (_failed,) * 2 + (_hit,) * 2 + (_refused,)
"""Per 20 requests: 11 answered by the first model, 4 after a fallback, 2 failed (502), 2 cache hits,
1 refused (400)."""


def batches(size: int = 20) -> Iterator[list[RequestRecord]]:
    counter = itertools.count()
    while True:
        yield [make(next(counter)) for make in _MIX[:size]]


class MetricsServer:
    """`GET /metrics` from a `PrometheusMetrics` on 127.0.0.1, fed `rate` records per second."""

    def __init__(self, policy: Policy, *, rate: int = 200) -> None:
        self.metrics = PrometheusMetrics.from_policy(policy, inflight=lambda: {"local-small": 3, "claude-sim": 1})
        self._interval = 20 / rate
        self._stop = threading.Event()
        metrics = self.metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body, content_type = metrics.render()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True),
                         threading.Thread(target=self._feed, daemon=True)]

    def _events(self) -> None:
        m = self.metrics
        m.breaker_changed("local-medium", "closed", "open")
        m.breaker_changed("local-medium", "open", "half-open")
        m.breaker_changed("local-medium", "half-open", "open")
        m.policy_loaded("deploy-2", ok=False)

    def _feed(self, limit_s: float = 300.0) -> None:
        """Bounded: stops after `limit_s` even if nobody calls `stop()`."""
        self._events()
        for n, batch in enumerate(batches()):
            if self._stop.wait(self._interval) or n * self._interval > limit_s:
                return
            for record in batch:
                self.metrics.observe(record)
            self.metrics.redis_error("cache")
            self.metrics.redis_latency("cache", 0.0008)
            self.metrics.redis_latency("semantic_cache", 0.003)

    def __enter__(self) -> MetricsServer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(5)

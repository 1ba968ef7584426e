"""What tracing costs a request on the gateway's event loop, when on: target <= 0.1 ms p50.

    .venv/bin/python benchmarks/tracing_overhead.py [--requests 20000] [--rate 1000]

Per request, the work the request path does when tracing is on: `Tracing.begin` (the client's
`traceparent` parsed, the request span started, the upstream `traceparent` made), `answered`, and
the observer's `observe` (attributes, one child span per attempt, spans ended and queued), which
runs right after the answer is written (off its latency, not off the loop's CPU). The
spans go through the real BatchSpanProcessor and OTLP/HTTP exporter to a local receiver that
discards them, so the export thread competes for the interpreter as it would in the gateway.
When tracing is off the request path does one `is None` test per request (and per stream chunk).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gateway.tracing.build import build_tracing
from gateway.tracing.policy import TracingPolicy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' record builder
from tests.gateway.records import routed_record

HEADERS = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
BODY = {"model": "auto", "messages": [{"role": "user", "content": "hello " * 50}]}
ANSWER = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def one(tracing: Any, fallback: bool) -> tuple[float, float]:
    """(ms before the answer: `begin` and `answered`; ms after it is written: `observe`)."""
    started = time.perf_counter_ns()
    now = time.time()
    record = routed_record(request_id="r", endpoint="chat", route="auto", model="local-medium", tier=2,
                           tokens_in=120, tokens_out=80, cache="miss", chain=("local-small", "local-medium"),
                           attempts=[("local-small", "UpstreamTimeout", 30.0, now - 0.02),
                                     ("local-medium", "ok", 20.0, now)] if fallback
                           else [("local-medium", "ok", 20.0, now)])
    record.trace = tracing.begin(HEADERS, BODY)
    record.trace.answered(ANSWER)
    answered = time.perf_counter_ns()
    tracing.observe(record)
    return (answered - started) / 1e6, (time.perf_counter_ns() - answered) / 1e6


def run(tracing: Any, n: int, fallback: bool, rate: float) -> list[tuple[float, float]]:
    """`n` requests paced at `rate` a second (a gateway's spans, not a burst that overflows the queue)."""
    out = []
    gap = 1.0 / rate
    next_at = time.perf_counter()
    for _ in range(n):
        while time.perf_counter() < next_at:
            pass
        next_at += gap
        out.append(one(tracing, fallback))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests a second")
    args = parser.parse_args()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    tracing = build_tracing(TracingPolicy(enabled=True, endpoint=f"http://127.0.0.1:{sink.server_address[1]}"),
                            {}, lambda model: "openai")
    assert tracing is not None
    for i in range(2000):  # warm
        one(tracing, i % 4 == 0)
    results = {"one attempt": run(tracing, args.requests, False, args.rate),
               "fallback (two attempts)": run(tracing, args.requests // 4, True, args.rate)}
    tracing.shutdown()
    sink.shutdown()
    print(f"{args.rate:g} requests/s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, pairs in results.items():
        for part, times in (("before the answer", [a for a, _ in pairs]), ("after it (observe)", [b for _, b in pairs]),
                            ("total", [a + b for a, b in pairs])):
            times.sort()
            p50, p99 = statistics.median(times), times[int(len(times) * 0.99)]
            print(f"{name:24s} {part:20s} p50 {p50:.4f} ms  p99 {p99:.4f} ms  ({len(times):,} requests)")


if __name__ == "__main__":
    main()

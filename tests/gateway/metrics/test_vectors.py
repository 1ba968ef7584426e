from __future__ import annotations

import threading
import time

from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import PrometheusMetrics
from gateway.metrics.vectors import CounterVec, GaugeVec, HistogramVec
from tests.gateway.records import routed_record


def samples(vector: CounterVec | GaugeVec | HistogramVec) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in vector.family().samples}


def test_histogram_buckets_are_cumulative_and_inclusive_of_their_bound() -> None:
    h = HistogramVec("h_seconds", "h", [0.1, 0.5, 1.0], ["model"])
    for value in (0.05, 0.1, 0.3, 2.0):
        h.observe(("m",), value)
    s = samples(h)
    assert s[("h_seconds_bucket", (("le", "0.1"), ("model", "m")))] == 2
    assert s[("h_seconds_bucket", (("le", "0.5"), ("model", "m")))] == 3
    assert s[("h_seconds_bucket", (("le", "1.0"), ("model", "m")))] == 3
    assert s[("h_seconds_bucket", (("le", "+Inf"), ("model", "m")))] == 4
    assert s[("h_seconds_count", (("model", "m"),))] == 4
    assert s[("h_seconds_sum", (("model", "m"),))] == 2.45


def test_counter_and_gauge() -> None:
    c = CounterVec("c", "c", ["a"])
    c.inc(("x",))
    c.inc(("x",), 2.5)
    g = GaugeVec("g", "g")
    g.set((), 3)
    g.set((), 1)
    assert samples(c) == {("c_total", (("a", "x"),)): 3.5}
    assert samples(g) == {("g", ()): 1}


def test_scrapes_in_another_thread_while_new_series_appear() -> None:
    metrics = PrometheusMetrics(aliases=["auto"], models=["m"])
    stop = threading.Event()
    errors: list[BaseException] = []

    def scrape() -> None:
        while not stop.is_set():
            try:
                list(text_string_to_metric_families(metrics.render()[0].decode()))
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                errors.append(exc)
                return

    thread = threading.Thread(target=scrape)
    thread.start()
    try:
        for status in range(100, 600):
            for tier in (1, 2, 3, None):
                metrics.observe(routed_record(request_id="r", endpoint="chat", route="auto", model="m",
                                              tier=tier, status=status, latency_ms=float(status)))
    finally:
        stop.set()
        thread.join()
    assert not errors
    body = metrics.render()[0].decode()
    assert body.count("turnout_requests_total{") == 500 * 4


class _YieldsWhenCollected:
    """Cyclic garbage whose finalizer hands the GIL to another thread, as an asyncio object's may."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        time.sleep(0.001)


def test_a_garbage_collection_during_the_scrape_cannot_expose_a_growing_dict() -> None:
    counter = CounterVec("c", "c", ["a"])
    for i in range(20_000):  # enough rows that copying them allocates past the tuple free list
        counter.inc((str(i),))
    stop = threading.Event()
    errors: list[BaseException] = []

    def scrape() -> None:
        while not stop.is_set():
            try:
                for _ in range(3):
                    _YieldsWhenCollected()
                counter.family()
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                errors.append(exc)
                return

    thread = threading.Thread(target=scrape)
    thread.start()
    deadline = time.monotonic() + 1.5
    added = 0
    try:
        while not errors and time.monotonic() < deadline:
            for _ in range(1_000):
                counter.inc((f"new-{added}",))
                added += 1
            time.sleep(0)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert len(counter.family().samples) == 20_000 + added

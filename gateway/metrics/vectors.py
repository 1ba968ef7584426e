"""Plain-Python metric vectors, exported by a collector at scrape time.

`prometheus_client`'s own metrics take a lock and several calls per update (about 1 µs each here);
a request updates ~20 of them. These keep values in dicts keyed by the label tuple, so an update
is one dict look-up and one addition. Updates happen on the event loop; `collect` (the scrape, maybe
in a worker thread) copies each dict with `dict.copy()` before reading it, so it never sees a dict
change size under it. (`list(d.items())` is not enough: it allocates a tuple per item, an
allocation can start a garbage collection, a finalizer it runs can hand the GIL to the event loop
mid-copy, and the scrape failed with "dictionary changed size during iteration" once in CI.)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

Key = tuple[str, ...]


class CounterVec:
    __slots__ = ("help", "labels", "name", "values")

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.values: dict[Key, float] = {}

    def inc(self, key: Key, amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def family(self) -> CounterMetricFamily:
        family = CounterMetricFamily(self.name, self.help, labels=self.labels)
        for key, value in self.values.copy().items():
            family.add_metric(key, value)
        return family


class GaugeVec:
    __slots__ = ("help", "labels", "name", "values")

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.values: dict[Key, float] = {}

    def set(self, key: Key, value: float) -> None:
        self.values[key] = value

    def family(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(self.name, self.help, labels=self.labels)
        for key, value in self.values.copy().items():
            family.add_metric(key, value)
        return family


class HistogramVec:
    """Per label tuple: one count per bucket (not cumulative: only one cell changes), +Inf, then the sum."""

    __slots__ = ("bounds", "help", "labels", "name", "values")

    def __init__(self, name: str, help: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.bounds = tuple(sorted(buckets))
        self.values: dict[Key, list[float]] = {}

    def observe(self, key: Key, value: float) -> None:
        cells = self.values.get(key)
        if cells is None:
            cells = self.values[key] = [0.0] * (len(self.bounds) + 2)
        cells[bisect_left(self.bounds, value)] += 1  # the first bound >= value: Prometheus' `le`
        cells[-1] += value

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.help, labels=self.labels)
        for key, cells in self.values.copy().items():
            counts = cells[:]
            buckets: list[tuple[str, float]] = []
            total = 0.0
            for bound, count in zip((*map(_le, self.bounds), "+Inf"), counts[:-1], strict=True):
                total += count
                buckets.append((bound, total))
            family.add_metric(list(key), buckets, sum_value=counts[-1])
        return family


def _le(bound: float) -> str:
    return repr(float(bound))

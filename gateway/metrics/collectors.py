"""Gauges read at scrape time rather than kept up to date on the request path."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from gateway.metrics.labels import ClosedSet

InflightSource = Callable[[], Mapping[str, int]]
"""Returns {model id: requests in flight}; called once per scrape."""

_NAME = "turnout_inflight_requests"
_HELP = "Requests in flight per upstream model, read at scrape time."


class InflightCollector:
    def __init__(self, models: Callable[[], ClosedSet]) -> None:
        self._models = models
        self._source: InflightSource | None = None

    def read_from(self, source: InflightSource) -> None:
        self._source = source

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(_NAME, _HELP, labels=["model"])]

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(_NAME, _HELP, labels=["model"])
        if self._source is not None:
            models = self._models()
            totals: dict[str, int] = dict.fromkeys(sorted(models.values()), 0)
            for model, count in self._source().items():
                label = models(model)
                totals[label] = totals.get(label, 0) + count
            for label, count in totals.items():
                family.add_metric([label], count)
        return [family]

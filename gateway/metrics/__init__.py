"""Prometheus metrics: `PrometheusMetrics` observes each request's record; `render()` serves /metrics."""

from gateway.metrics.labels import OTHER, ClosedSet
from gateway.metrics.prometheus import PrometheusMetrics

__all__ = ["OTHER", "ClosedSet", "PrometheusMetrics"]

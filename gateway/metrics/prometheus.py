"""`PrometheusMetrics`: the `Observer` that turns each `RequestRecord` into Prometheus samples.

    metrics = PrometheusMetrics.from_policy(policy)      # once, in the lifespan
    metrics.observe(record)                              # every request, on the event loop
    body, content_type = metrics.render()                # GET /metrics

`observe` is on the hot path: label values go through closed sets (unknown -> `other`) and the
labelled children are bound once and kept in dicts, so a request costs a few dict look-ups and
lock-protected additions. One process per replica (see deploy/README.md): the registry is this
object's own, so two instances (tests, two apps) never share a time series.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gateway.metrics.collectors import InflightCollector, InflightSource
from gateway.metrics.families import Families, build_families
from gateway.metrics.labels import NONE, ClosedSet, classifier_tasks, error_class_names
from gateway.record import RequestRecord

if TYPE_CHECKING:
    from gateway.config import Policy

BREAKER_STATES = ("closed", "open", "half-open")
ENDPOINTS = ClosedSet(("chat", "embeddings"))
_TIERS = {1: "1", 2: "2", 3: "3"}
_CACHE_LOOKUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "hit-exact": (("exact", "hit"),),
    "hit-semantic": (("exact", "miss"), ("semantic", "hit")),
    "miss": (("exact", "miss"), ("semantic", "miss")),
    "bypass": (),
}
"""The record's cache result -> the lookups it took: the exact layer is always asked first."""


class _Bound:
    """The labelled children of one metric, bound on first use and kept (label values are closed)."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class PrometheusMetrics:
    def __init__(self, *, aliases: Iterable[str], models: Iterable[str], tasks: Iterable[str] | None = None,
                 fallback_reasons: Iterable[str] = (), tenants: Iterable[str] = (),
                 cost_by_tenant: bool = False, inflight: InflightSource | None = None) -> None:
        """`aliases` and `models` come from the policy; `tasks` defaults to the classifier's; error
        classes (attempt outcomes, fallback reasons) are `router.errors` names plus `fallback_reasons`.
        `cost_by_tenant` adds `turnout_tenant_cost_usd{tenant}` for the listed `tenants` (others: `other`)."""
        self.registry = CollectorRegistry()
        self._breakers: set[str] = set()
        """Models with a `turnout_breaker_state` series."""
        self._f: Families = build_families(self.registry, cost_by_tenant=cost_by_tenant)
        errors = error_class_names()
        self._routes = ClosedSet(aliases)
        self._models = ClosedSet(models)
        self._tasks = ClosedSet(classifier_tasks() if tasks is None else tasks)
        self._errors = ClosedSet(errors)
        self._outcomes = ClosedSet(errors | {"ok"})
        self._reasons = ClosedSet(errors | set(fallback_reasons))
        self._tenants = ClosedSet(tenants)
        self._inflight = InflightCollector(lambda: self._models)
        self.registry.register(self._inflight)
        if inflight is not None:
            self._inflight.read_from(inflight)
        self._bind()
        for model in sorted(self._models.values()):
            self._set_breaker(model, "closed")

    @classmethod
    def from_policy(cls, policy: Policy, **kwargs: Any) -> PrometheusMetrics:
        """Aliases and model ids from `policy`; records the policy as loaded. `kwargs` as `__init__`."""
        metrics = cls(aliases=[*policy.router.aliases, *(m.id for m in policy.models)],
                      models=[m.id for m in policy.models], **kwargs)
        metrics.policy_loaded(policy.version or "", ok=True)
        return metrics

    def _bind(self) -> None:
        f = self._f
        self._requests = _Bound(f.requests)
        self._request_errors = _Bound(f.request_errors)
        self._duration = _Bound(f.request_duration)
        self._ttft = _Bound(f.ttft)
        self._overhead = _Bound(f.overhead)
        self._attempts = _Bound(f.attempts)
        self._fallbacks = _Bound(f.fallbacks)
        self._tokens = _Bound(f.tokens)
        self._cost = _Bound(f.cost)
        self._tenant_cost = _Bound(f.tenant_cost) if f.tenant_cost is not None else None
        self._cache = {result: [f.cache_lookups.labels(*lk) for lk in lookups]
                       for result, lookups in _CACHE_LOOKUPS.items()}
        self._decisions = _Bound(f.classifier_decisions)
        self._uncertain = _Bound(f.classifier_uncertain)
        self._redis_errors = _Bound(f.redis_errors)
        self._redis_latency = _Bound(f.redis_latency)

    # The request path -------------------------------------------------------------------------

    def observe(self, record: RequestRecord) -> None:
        route = self._routes(record.route)
        model = self._models(record.model)
        tier = _TIERS.get(record.tier, NONE) if record.tier is not None else NONE
        endpoint = ENDPOINTS(record.endpoint)
        self._requests(endpoint, route, model, tier, str(record.status)).inc()
        if record.error_class is not None:
            self._request_errors(route, self._errors(record.error_class)).inc()
        self._duration(route, model).observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            self._ttft(model).observe(record.ttft_ms / 1000)
        self._overhead(endpoint).observe(record.overhead_ms / 1000)
        for attempt in record.attempts:
            self._attempts(self._models(attempt.model), self._outcomes(attempt.outcome)).inc()
        for from_model, to_model, reason in record.fallbacks:
            self._fallbacks(self._models(from_model), self._models(to_model), self._reasons(reason)).inc()
        self._usage(record, model)
        self._cache_and_classifier(record, tier)

    def _usage(self, record: RequestRecord, model: str) -> None:
        if record.tokens_in:
            self._tokens(model, "in").inc(record.tokens_in)
        if record.tokens_out:
            self._tokens(model, "out").inc(record.tokens_out)
        if record.cost_usd > 0:
            self._cost(model).inc(record.cost_usd)
            if self._tenant_cost is not None:
                self._tenant_cost(self._tenants(record.tenant)).inc(record.cost_usd)

    def _cache_and_classifier(self, record: RequestRecord, tier: str) -> None:
        for child in self._cache.get(record.cache, ()):
            child.inc()
        if record.cache_similarity is not None and record.cache.startswith("hit"):
            self._f.cache_similarity.observe(record.cache_similarity)
        if record.classifier_ms is not None:
            self._decisions(tier, self._tasks(record.task)).inc()
            self._f.classifier_duration.observe(record.classifier_ms / 1000)
            if record.uncertain:
                self._uncertain(tier).inc()

    # Runtime callbacks ------------------------------------------------------------------------

    def breaker_changed(self, model: str, old: str, new: str) -> None:
        """`router.breakers` on_change(model, old, new); states "closed", "open", "half-open"."""
        label = self._models(model)
        self._f.breaker_transitions.labels(label, old, new).inc()
        self._set_breaker(label, new)

    def _set_breaker(self, model: str, state: str) -> None:
        self._breakers.add(model)
        for s in BREAKER_STATES:
            self._f.breaker_state.labels(model, s).set(1 if s == state else 0)

    def policy_loaded(self, version: str, ok: bool, *, aliases: Iterable[str] | None = None,
                      models: Iterable[str] | None = None) -> None:
        """A policy (re)load: on success `version` is the running one and the label sets follow it."""
        self._f.policy_reloads.labels("ok" if ok else "error").inc()
        self._f.policy_reload_success.set(1 if ok else 0)
        self._f.policy_reload_time.set(time.time())
        if not ok:
            return
        self._f.policy.info({"version": version})
        if aliases is not None:
            self._routes = ClosedSet(aliases)
        if models is not None:
            self._models = ClosedSet(models)
            for model in sorted(self._models.values() - self._breakers):
                self._set_breaker(model, "closed")

    def read_inflight_from(self, source: InflightSource) -> None:
        """Call `source()` -> {model id: in-flight requests} at each scrape."""
        self._inflight.read_from(source)

    def redis_error(self, component: str) -> None:
        self._redis_errors(component).inc()

    def redis_latency(self, component: str, seconds: float) -> None:
        self._redis_latency(component).observe(seconds)

    # GET /metrics ------------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """(body, content type) for `GET /metrics`; a few ms of CPU: call it in a thread."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

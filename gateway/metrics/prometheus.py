"""`PrometheusMetrics`: the `Observer` that turns each `RequestRecord` into Prometheus samples.

    metrics = PrometheusMetrics.from_policy(policy)      # once, in the lifespan
    metrics.observe(record)                              # every request, on the event loop
    body, content_type = metrics.render()                # GET /metrics (in a thread: a few ms)

`observe` is on the hot path: label values go through closed sets (unknown -> `other`) and land
in plain dicts (`vectors`), exported by a collector at scrape time. One process per replica (see
deploy/README.md); the registry is this object's own, so two instances never share a series.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gateway.metrics.collectors import InflightCollector, InflightSource
from gateway.metrics.families import build_families
from gateway.metrics.labels import NONE, ClosedSet, classifier_tasks, error_class_names
from gateway.record import RequestRecord

if TYPE_CHECKING:
    from gateway.config import Policy

BREAKER_STATES = ("closed", "open", "half-open")
ENDPOINTS = ClosedSet(("chat", "embeddings"))
_TIERS: dict[int | None, str] = {1: "1", 2: "2", 3: "3"}
_CACHE_LOOKUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "hit-exact": (("exact", "hit"),),
    "hit-semantic": (("exact", "miss"), ("semantic", "hit")),
    "miss": (("exact", "miss"), ("semantic", "miss")),
    "bypass": (),
}
"""The record's cache result -> the lookups it took: the exact layer is always asked first."""


class PrometheusMetrics:
    def __init__(self, *, aliases: Iterable[str], models: Iterable[str], tasks: Iterable[str] | None = None,
                 fallback_reasons: Iterable[str] = (), tenants: Iterable[str] = (),
                 cost_by_tenant: bool = False, inflight: InflightSource | None = None,
                 semantic_routes: Iterable[str] = ()) -> None:
        """`aliases` and `models` come from the policy; `tasks` defaults to the classifier's; error
        classes (attempt outcomes, fallback reasons) are `router.errors` names plus `fallback_reasons`.
        `cost_by_tenant` adds `turnout_tenant_cost_usd{tenant}` for the listed `tenants` (others: `other`)."""
        self._f = build_families(cost_by_tenant=cost_by_tenant)
        self._inflight = InflightCollector(lambda: self._models)
        self.registry = CollectorRegistry()
        self.registry.register(self._f)
        self.registry.register(self._inflight)
        errors = error_class_names()
        self._routes = ClosedSet(aliases)
        self._models = ClosedSet(models)
        self._tasks = ClosedSet(classifier_tasks() if tasks is None else tasks)
        self._errors = ClosedSet(errors)
        self._outcomes = ClosedSet(errors | {"ok"})
        self._reasons = ClosedSet(errors | set(fallback_reasons))
        self._tenants = ClosedSet(tenants)
        self._semantic = ClosedSet([*semantic_routes, NONE])
        self._statuses: dict[int, str] = {}
        if inflight is not None:
            self._inflight.read_from(inflight)
        for model in sorted(self._models.values()):
            self._set_breaker(model, "closed")

    @classmethod
    def from_policy(cls, policy: Policy, **kwargs: Any) -> PrometheusMetrics:
        """Aliases (and model ids, which clients may name) from `policy`; records it as loaded."""
        from gateway.config import route_names

        metrics = cls(aliases=[*policy.router.aliases, *(m.id for m in policy.models)],
                      models=[m.id for m in policy.models], semantic_routes=route_names(policy), **kwargs)
        metrics.policy_loaded(policy.version or "", ok=True)
        return metrics

    # The request path -------------------------------------------------------------------------

    def observe(self, record: RequestRecord) -> None:
        f = self._f
        route = self._routes(record.route)
        model = self._models(record.model)
        tier = _TIERS.get(record.tier, NONE)  # None: not routed, or a model id named
        endpoint = ENDPOINTS(record.endpoint)
        f.requests.inc((endpoint, route, model, tier, self._status(record.status)))
        if record.error_class is not None:
            f.request_errors.inc((route, self._errors(record.error_class)))
        f.request_duration.observe((route, model), record.latency_ms / 1000)
        ttft_ms = record.ttft_ms
        if ttft_ms is not None:
            f.ttft.observe((model,), ttft_ms / 1000)
        f.overhead.observe((endpoint,), record.overhead_ms / 1000)
        attempts = record.attempts
        for attempt in attempts:
            f.attempts.inc((self._models(attempt.model), self._outcomes(attempt.result)))
        if len(attempts) > 1:
            for from_model, to_model, reason in record.fallbacks:
                f.fallbacks.inc((self._models(from_model), self._models(to_model), self._reasons(reason)))
        self._usage(record, model)
        self._cache_and_classifier(record, tier)

    def _status(self, status: int) -> str:
        text = self._statuses.get(status)
        if text is None:
            text = self._statuses[status] = str(status) if 100 <= status <= 599 else "other"
        return text

    def _usage(self, record: RequestRecord, model: str) -> None:
        f = self._f
        tokens_in, tokens_out, cost_usd = record.tokens_in, record.tokens_out, record.cost_usd
        if tokens_in:
            f.tokens.inc((model, "in"), tokens_in)
        if tokens_out:
            f.tokens.inc((model, "out"), tokens_out)
        if cost_usd > 0:
            f.cost.inc((model,), cost_usd)
            if f.tenant_cost is not None:
                f.tenant_cost.inc((self._tenants(record.tenant),), cost_usd)

    def _cache_and_classifier(self, record: RequestRecord, tier: str) -> None:
        f = self._f
        for lookup in _CACHE_LOOKUPS.get(record.cache, ()):
            f.cache_lookups.inc(lookup)
        if record.cache_similarity is not None and record.cache.startswith("hit"):
            f.cache_similarity.observe((), record.cache_similarity)
        if record.classifier_ms is not None:
            f.classifier_decisions.inc((tier, self._tasks(record.task)))
            f.classifier_duration.observe((), record.classifier_ms / 1000)
            if record.uncertain:
                f.classifier_uncertain.inc((tier,))
        if record.semantic_route is not None:
            f.semantic_routes.inc((self._routes(record.route), self._semantic(record.semantic_route)))

    # Runtime callbacks ------------------------------------------------------------------------

    def breaker_changed(self, model: str, old: str, new: str) -> None:
        """`router.breakers` on_change(model, old, new); states "closed", "open", "half-open"."""
        label = self._models(model)
        self._f.breaker_transitions.inc((label, old, new))
        self._set_breaker(label, new)

    def _set_breaker(self, model: str, state: str) -> None:
        for s in BREAKER_STATES:
            self._f.breaker_state.set((model, s), 1 if s == state else 0)

    def policy_loaded(self, version: str, ok: bool, *, aliases: Iterable[str] | None = None,
                      models: Iterable[str] | None = None, semantic_routes: Iterable[str] | None = None) -> None:
        """A policy (re)load: on success `version` is the running one and the label sets follow it."""
        f = self._f
        f.policy_reloads.inc(("ok" if ok else "error",))
        f.policy_reload_success.set((), 1 if ok else 0)
        f.policy_reload_time.set((), time.time())
        if not ok:
            return
        f.policy.values.clear()
        f.policy.set((version,), 1)
        if aliases is not None:
            self._routes = ClosedSet(aliases)
        if semantic_routes is not None:
            self._semantic = ClosedSet([*semantic_routes, NONE])
        if models is not None:
            self._models = ClosedSet(models)
            known = {model for model, _ in f.breaker_state.values}
            for model in sorted(self._models.values() - known):
                self._set_breaker(model, "closed")

    def read_inflight_from(self, source: InflightSource) -> None:
        """Call `source()` -> {model id: in-flight requests} at each scrape."""
        self._inflight.read_from(source)

    def redis_error(self, component: str) -> None:
        """`component`: a name fixed in our code (`cache`, `semantic_cache`, ...), never user input."""
        self._f.redis_errors.inc((component,))

    def guardrail_triggered(self, guardrail: str, action: str) -> None:
        """`guardrail` and `action`: names fixed in our code (`pii`, `injection`, `deny`; `block`, ...)."""
        self._f.guardrails.inc((guardrail, action))

    def redis_latency(self, component: str, seconds: float) -> None:
        self._f.redis_latency.observe((component,), seconds)

    # GET /metrics ------------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """(body, content type) for `GET /metrics`; a few ms of CPU: call it in a thread."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

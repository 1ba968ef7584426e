"""What a running gateway holds.

`Services` are built once per process in the lifespan and survive policy reloads (the upstream
connection pools, the breakers, the metrics, the classifier). A `Runtime` is built per policy load
(the policy, its registry, an executor over that registry); a request pins the runtime it started
with, so a reload never changes a request midway.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from redis.asyncio import Redis

from gateway.access import SpendRecorder
from gateway.auth.tenancy import Tenancy
from gateway.config import Policy
from gateway.record import Observer
from gateway.settings import Settings
from registry import ModelSpec, Registry
from router.breakers import Breakers
from router.executor import Executor
from router.routes import RouteIndex
from router.upstream.base import Upstream

if TYPE_CHECKING:
    from embedding import RequestEmbedding, StaticEmbedder
    from gateway.cache import ResponseCache
    from gateway.protocols.store import ResponseStore
    from gateway.tracing.spans import Tracing

log = logging.getLogger("turnout.gateway")


class PromptClassifier(Protocol):
    """`classifier.Classifier` as the gateway uses it: `embedding` is the request's `RequestEmbedding`,
    computed once by the gateway (the classifier embeds the messages itself only when it is None)."""

    def classify(self, messages: Any, *, tools: Any = None, response_format: Any = None,
                 uncertainty_margin: float = 0.5, embedding: RequestEmbedding | None = None) -> Any: ...


class RouteExplainer(Protocol):
    """Why a request got its score (`classifier.Classifier.explain`): for `POST /v1/route`, off the chat path."""

    def explain(self, messages: Any, *, embedding: RequestEmbedding | None = None) -> Any: ...


@dataclass(slots=True)
class Services:
    settings: Settings
    upstream: Upstream
    breakers: Breakers
    tenancy: Tenancy
    spend: SpendRecorder
    observers: list[Observer] = field(default_factory=list)
    classifier: PromptClassifier | None = None
    explainer: RouteExplainer | None = None
    redis: Redis | None = None
    cache: ResponseCache | None = None
    embedder: StaticEmbedder | None = None
    """The request embedding (one per routed or semantically cached request), shared by every user."""
    responses: ResponseStore | None = None
    """Stored answers of `/v1/responses`, for `previous_response_id`."""
    tracing: Tracing | None = None
    """OpenTelemetry spans of requests; None when tracing is off (the request path then skips it)."""


@dataclass(slots=True)
class Runtime:
    policy: Policy
    registry: Registry
    executor: Executor
    specs: Mapping[str, ModelSpec]
    api_keys: Mapping[str, str] = field(repr=False)
    """Model id -> key, resolved from the environment at load. Never logged."""
    routes: Mapping[str, RouteIndex] = field(default_factory=dict)
    """Alias -> its semantic routes' matcher (aliases that declare routes only)."""

    @property
    def version(self) -> str:
        return self.policy.version or ""


def resolve_keys(policy: Policy, environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(keys by model id, reasons why models are unavailable). One clear log line per missing key."""
    keys: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for spec in policy.models:
        if spec.api_key_env is None:
            continue
        value = environ.get(spec.api_key_env, "")
        if value:
            keys[spec.id] = value
        else:
            reason = f"environment variable {spec.api_key_env} is not set"
            unavailable[spec.id] = reason
            log.warning("model %s is unavailable: %s; it is skipped", spec.id, reason)
    return keys, unavailable


def build_runtime(services: Services, policy: Policy, previous: Runtime | None = None,
                  routes: Mapping[str, RouteIndex] | None = None) -> Runtime:
    """`routes`: the policy's route matchers when built already (reload builds them in a thread)."""
    keys, unavailable = resolve_keys(policy, services.settings.environ)
    registry = Registry(policy.models, unavailable)
    if previous is not None:
        registry.adopt(previous.registry)
    services.breakers.configure(policy.router.breaker)
    executor = Executor(upstream=services.upstream, registry=registry, breakers=services.breakers, api_keys=keys)
    log.info("policy %s loaded: %d models (%d available), aliases: %s", policy.version, len(policy.models),
             len(registry.available_ids()), ", ".join(policy.router.aliases) or "none")
    if routes is None:
        from gateway.semantic_routes import build_route_indexes

        routes = build_route_indexes(policy, services.embedder,
                                     (previous.policy, previous.routes) if previous is not None else None)
    return Runtime(policy=policy, registry=registry, executor=executor,
                   specs={m.id: m for m in policy.models}, api_keys=keys, routes=routes)

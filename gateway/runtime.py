"""What a running gateway holds.

`Services` are built once per process in the lifespan and survive policy reloads (the upstream
connection pools, the Redis client, the breakers, the metrics, the classifier). A `Runtime` is built
per policy load: the policy, its registry, an executor over that registry, and what else the policy
decides (keys, limits and guardrails in `tenancy`; the response `cache`). A request pins the runtime
it started with, so a reload never changes a request midway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from redis.asyncio import Redis

from gateway.access import Access
from gateway.auth.tenancy import Tenancy, TenancyObserver
from gateway.config import Policy
from gateway.record import Observer
from gateway.redisbatch import CommandBatch
from gateway.settings import Settings
from registry import ModelSpec, Registry
from router.breakers import Breakers
from router.executor import Executor
from router.routes import RouteIndex
from router.upstream.base import TokenCounter, Upstream
from router.upstream.tokens import build_token_counter

if TYPE_CHECKING:
    from embedding import RequestEmbedding, StaticEmbedder
    from gateway.cache import ResponseCache
    from gateway.learning.learner import Learner
    from gateway.protocols.store import ResponseStore
    from gateway.tracing.spans import Tracing

log = logging.getLogger("turnout.gateway")


class PromptClassifier(Protocol):
    """`classifier.Classifier` as the gateway uses it: `embedding` is the request's `RequestEmbedding`,
    computed once by the gateway (the classifier embeds the messages itself only when it is None)."""

    def classify(self, messages: Any, *, tools: Any = None, response_format: Any = None,
                 uncertainty_margin: float = 0.5, embedding: RequestEmbedding | None = None) -> Any: ...


class UsageSink(Protocol):
    """Where an answer's usage goes to be charged to the caller (`gateway.spend.SpendRecorder`)."""

    def settle(self, access: Access, runtime: Runtime, model: str | None, usage: Mapping[str, int]) -> None: ...


class RouteExplainer(Protocol):
    """Why a request got its score (`classifier.Classifier.explain`): for `POST /v1/route`, off the chat path."""

    def explain(self, messages: Any, *, embedding: RequestEmbedding | None = None) -> Any: ...


@dataclass(slots=True)
class Services:
    settings: Settings
    upstream: Upstream
    breakers: Breakers
    spend: UsageSink
    observers: list[Observer] = field(default_factory=list)
    classifier: PromptClassifier | None = None
    explainer: RouteExplainer | None = None
    redis: Redis | None = None
    batch: CommandBatch | None = None
    """One pipeline per loop turn over `redis`, shared by the limits and the cache."""
    tenancy_observer: TenancyObserver | None = None
    embedder: StaticEmbedder | None = None
    """The request embedding (one per routed or semantically cached request), shared by every user."""
    embedding_dir: Path | None = None
    """Embedding weights other than the shipped ones (TURNOUT_EMBEDDING_DIR)."""
    learning: Learner | None = None
    responses: ResponseStore | None = None
    """Stored answers of `/v1/responses`, for `previous_response_id`."""
    tokens: TokenCounter = field(default_factory=build_token_counter)
    """Exact prompt tokens with a model's tokenizer (the router's upstream interface)."""
    tracing: Tracing | None = None
    """OpenTelemetry spans of requests; None when tracing is off (the request path then skips it)."""


@dataclass(slots=True)
class Runtime:
    policy: Policy
    registry: Registry
    executor: Executor
    specs: Mapping[str, ModelSpec]
    tenancy: Tenancy
    cache: ResponseCache | None = None
    api_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Model id -> key, resolved from the environment at load. Never logged."""
    routes: Mapping[str, RouteIndex] = field(default_factory=dict)
    """Alias -> its semantic routes' matcher (aliases that declare routes only)."""
    classifier: PromptClassifier | None = None
    explainer: RouteExplainer | None = None
    """The artifact of the policy's `classifier:` section; None: the shipped one (`Services.classifier`)."""

    def scorer(self, services: Services) -> tuple[PromptClassifier | None, RouteExplainer | None]:
        """The classifier (and its explainer) that serves this policy."""
        if self.classifier is not None:
            return self.classifier, self.explainer
        return services.classifier, services.explainer

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


async def _tenancy(services: Services, policy: Policy, previous: Runtime | None) -> Tenancy:
    if previous is not None and (previous.policy.auth, previous.policy.guardrails) == (policy.auth,
                                                                                         policy.guardrails):
        return previous.tenancy
    return await Tenancy.build(auth=policy.auth, guardrails=policy.guardrails, environ=services.settings.environ,
                               redis=services.redis, observer=services.tenancy_observer, batch=services.batch)


async def _cache(services: Services, policy: Policy, previous: Runtime | None) -> ResponseCache | None:
    if previous is not None and previous.policy.cache == policy.cache:
        return previous.cache
    if not policy.cache.enabled:
        return None
    from gateway.cache import build_cache

    # the entries stay where they are: a new cache over the old one's store
    store = previous.cache.storage if previous is not None and previous.cache is not None else None
    return await build_cache(policy.cache, redis=services.redis, batch=services.batch, store=store,
                             static=services.embedder, weights=services.embedding_dir)


async def _classifier(services: Services, policy: Policy, previous: Runtime | None) -> Any:
    if previous is not None and previous.policy.classifier == policy.classifier:
        return previous.classifier
    from gateway.classifier_policy import load_classifier

    shared = getattr(services.classifier, "training_prompts", None)  # the explainer's prompts, embedded once
    return await asyncio.to_thread(load_classifier, policy.classifier, services.settings.policy_path,
                                   training_prompts=shared)


async def build_runtime(services: Services, policy: Policy, previous: Runtime | None = None) -> Runtime:
    """Everything a policy decides, built whole before it serves; parts whose section did not change
    are carried over from `previous`. Raises if a part cannot be built (the caller keeps `previous`)."""
    from gateway.semantic_routes import build_route_indexes

    classifier = await _classifier(services, policy, previous)
    tenancy = await _tenancy(services, policy, previous)
    cache = await _cache(services, policy, previous)
    routes = await asyncio.to_thread(build_route_indexes, policy, services.embedder,
                                     (previous.policy, previous.routes) if previous is not None else None)
    keys, unavailable = resolve_keys(policy, services.settings.environ)
    registry = Registry(policy.models, unavailable)
    if previous is not None:
        registry.adopt(previous.registry)
    services.breakers.configure(policy.router.breaker)
    executor = Executor(upstream=services.upstream, registry=registry, breakers=services.breakers, api_keys=keys)
    log.info("policy %s loaded: %d models (%d available), aliases: %s", policy.version, len(policy.models),
             len(registry.available_ids()), ", ".join(policy.router.aliases) or "none")
    return Runtime(policy=policy, registry=registry, executor=executor, specs={m.id: m for m in policy.models},
                   tenancy=tenancy, cache=cache, api_keys=keys, routes=routes, classifier=classifier,
                   explainer=classifier)

"""The lifespan: everything the gateway holds, built once at start and closed at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from redis.asyncio import Redis

from gateway.config import Policy, load_policy
from gateway.gctune import tune_for_serving
from gateway.redisbatch import CommandBatch
from gateway.redisconn import check, connect
from gateway.reload import PolicyHolder
from gateway.runtime import Services, build_runtime
from gateway.service import GatewayService
from gateway.settings import Settings
from gateway.spend import SpendRecorder
from router.breakers import Breakers
from router.upstream.base import Upstream

if TYPE_CHECKING:
    from embedding import StaticEmbedder

log = logging.getLogger("turnout.gateway")


def _load_classifier() -> Any:
    try:
        from classifier import load_default

        return load_default()
    except Exception:  # a missing or unverifiable artifact must not stop the gateway
        log.exception("classifier unavailable: aliases route every request as tier 2, uncertain")
        return None


def _load_embedder(weights: Path | None) -> StaticEmbedder | None:
    from embedding import EmbeddingUnavailable, StaticEmbedder

    try:
        return StaticEmbedder.load(weights)
    except EmbeddingUnavailable as exc:  # one line naming the fix; aliases then route by length alone
        log.error("request embedding unavailable: %s", exc)
        return None


def redis_url(policy: Policy, settings: Settings) -> str | None:
    """The Redis URL of the policy, or None when none is configured (or its variable is unset)."""
    if policy.redis is None:
        return None
    url = settings.environ.get(policy.redis.url_env)
    if not url:
        log.warning("policy names Redis in %s, which is not set: running without Redis", policy.redis.url_env)
        return None
    return url


def redis_client(policy: Policy, settings: Settings) -> Redis | None:
    """The one Redis client of the process (cache, keys, limits, spend, breakers), or None."""
    url = redis_url(policy, settings)
    if url is None or policy.redis is None:
        return None
    return connect(url, max_connections=policy.redis.max_connections, timeout_s=policy.redis.timeout_s)


async def warm(redis: Redis | None, policy: Policy, settings: Settings) -> None:
    """Open the first connection now, so the first request does not pay for it (and miss its budget)."""
    url = redis_url(policy, settings)
    if redis is None or url is None:
        return
    problem = await check(redis, url)
    if problem is not None:
        log.error("%s; the cache, keys in Redis and limits follow their fail-open/closed rules until it answers",
                  problem)


def _start_tracing(services: Services, policy: Policy, holder: PolicyHolder) -> None:
    """Spans of requests when the policy or OTEL_EXPORTER_OTLP_ENDPOINT asks (None, and no cost, otherwise)."""
    from gateway.tracing.build import build_tracing

    def provider_of(model: str) -> str | None:
        spec = holder.current.specs.get(model)
        return spec.provider if spec is not None else None

    services.tracing = build_tracing(policy.tracing, services.settings.environ, provider_of)
    if services.tracing is not None:
        services.observers.append(services.tracing)
        log.info("tracing on: OpenTelemetry spans exported over OTLP/HTTP")


async def _stop_tracing(services: Services) -> None:
    if services.tracing is not None:
        await asyncio.to_thread(services.tracing.shutdown)  # flushes queued spans: blocking


def lifespan(settings: Settings, upstream: Upstream | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        from gateway.learning.build import build_learner, close_learner, learning_tasks
        from gateway.metrics import PrometheusMetrics
        from router.upstream import build_upstream

        policy = load_policy(settings.policy_path)
        routing_upstream = build_upstream() if upstream is None else None
        chosen: Upstream = upstream if upstream is not None else routing_upstream  # type: ignore[assignment]
        classifier_task = asyncio.create_task(asyncio.to_thread(_load_classifier))
        weights = Path(settings.environ["TURNOUT_EMBEDDING_DIR"]) if settings.environ.get("TURNOUT_EMBEDDING_DIR") \
            else None  # weights other than the shipped ones
        embedder_task = asyncio.create_task(asyncio.to_thread(_load_embedder, weights))
        redis = redis_client(policy, settings)
        await warm(redis, policy, settings)
        batch = CommandBatch(redis) if redis is not None else None  # one pipeline per loop turn
        metrics = PrometheusMetrics.from_policy(policy)
        spend = SpendRecorder()
        services = Services(settings=settings, upstream=chosen, breakers=Breakers(policy.router.breaker),
                            spend=spend, observers=[metrics], redis=redis, batch=batch, tenancy_observer=metrics,
                            embedding_dir=weights)
        services.embedder = await embedder_task
        from gateway.protocols.store import build_store

        services.responses = build_store(redis, ttl_s=policy.protocols.responses_ttl_s,
                                         prefix=policy.auth.redis_prefix)
        holder = PolicyHolder(services, await build_runtime(services, policy), settings.policy_path)
        _start_tracing(services, policy, holder)
        metrics.read_inflight_from(lambda: {s.spec.id: s.in_flight for s in holder.current.registry})
        services.breakers.subscribe(metrics.breaker_changed)
        classifier = await classifier_task
        if classifier is not None and services.embedder is not None:  # one table: the explainer embeds with it
            classifier = classifier.with_embedder(services.embedder)
        services.classifier = services.explainer = classifier
        services.learning = build_learner(holder, redis, metrics)
        app.state.holder, app.state.metrics = holder, metrics
        app.state.service = GatewayService(services, holder)
        background = []
        closers: list[Callable[[], None]] = []
        if routing_upstream is not None:
            background.append(asyncio.create_task(routing_upstream.prepare(policy.models)))
        if redis is not None and policy.router.breaker.shared:
            from gateway.breaker_sync import RedisBreakerSync

            sync = RedisBreakerSync(redis=redis, breakers=services.breakers,
                                    interval_s=policy.router.breaker.sync_interval_s)
            background.append(asyncio.create_task(sync.run()))
            closers.append(sync.close)
        background.append(asyncio.create_task(spend.run()))
        background.extend(learning_tasks(services.learning))
        if settings.policy_watch_s > 0:
            background.append(asyncio.create_task(holder.watch(settings.policy_watch_s)))
        holder.install_sighup()
        tune_for_serving(settings.tune_gc)
        try:
            yield
        finally:
            holder.remove_sighup()
            for close in closers:
                close()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await spend.drain()
            await close_learner(services.learning)
            await _stop_tracing(services)
            await holder.aclose()
            if holder.current.cache is not None:
                await holder.current.cache.aclose()
            if routing_upstream is not None:
                await routing_upstream.aclose()
            if batch is not None:
                await batch.aclose()
            if redis is not None:
                await redis.aclose()

    return run

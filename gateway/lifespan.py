"""The lifespan: everything the gateway holds, built once at start and closed at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from gateway.config import load_policy
from gateway.reload import PolicyHolder
from gateway.runtime import Services, build_runtime
from gateway.service import GatewayService
from gateway.settings import Settings
from router.breakers import Breakers
from router.upstream.base import Upstream

log = logging.getLogger("turnout.gateway")


def _load_classifier() -> Any:
    try:
        from classifier import load_default

        return load_default()
    except Exception:  # a missing or unverifiable artifact must not stop the gateway
        log.exception("classifier unavailable: aliases route every request as tier 2, uncertain")
        return None


def lifespan(settings: Settings, upstream: Upstream | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        from gateway.metrics import PrometheusMetrics
        from router.upstream import build_upstream

        policy = load_policy(settings.policy_path)
        routing_upstream = build_upstream() if upstream is None else None
        chosen: Upstream = upstream if upstream is not None else routing_upstream  # type: ignore[assignment]
        services = Services(settings=settings, upstream=chosen, breakers=Breakers(policy.router.breaker))
        classifier_task = asyncio.create_task(asyncio.to_thread(_load_classifier))
        holder = PolicyHolder(services, build_runtime(services, policy), settings.policy_path)
        metrics = PrometheusMetrics.from_policy(
            policy, inflight=lambda: {s.spec.id: s.in_flight for s in holder.current.registry})
        services.breakers.subscribe(metrics.breaker_changed)
        services.observers.append(metrics)
        services.classifier = await classifier_task
        app.state.holder, app.state.metrics = holder, metrics
        app.state.service = GatewayService(services, holder)
        background = []
        if routing_upstream is not None:
            background.append(asyncio.create_task(routing_upstream.prepare(policy.models)))
        if settings.policy_watch_s > 0:
            background.append(asyncio.create_task(holder.watch(settings.policy_watch_s)))
        holder.install_sighup()
        try:
            yield
        finally:
            holder.remove_sighup()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if routing_upstream is not None:
                await routing_upstream.aclose()

    return run

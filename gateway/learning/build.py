"""Build the learner in the lifespan: its store (Redis when the gateway has one) and its policy view."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.learning.config import LearningPolicy
from gateway.learning.learner import Learner
from gateway.learning.shared import RedisFlood, RedisTally
from gateway.learning.store import LearningStore, MemoryStore, RedisStore
from registry import ModelSpec
from router.policy import RouterPolicy

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from gateway.metrics import PrometheusMetrics
    from gateway.reload import PolicyHolder


def build_learner(holder: PolicyHolder, redis: Redis | None,
                  metrics: PrometheusMetrics | None = None) -> Learner | None:
    """None when the policy leaves learning off at start (turning it on later needs a restart)."""
    policy = holder.current.policy
    if not policy.learning.enabled:
        return None
    prefix = policy.learning.key_prefix
    store: LearningStore = (RedisStore(client=redis, prefix=prefix, max_rows=policy.learning.max_rows)
                            if redis is not None else MemoryStore(max_rows=policy.learning.max_rows))
    shared: dict[str, Any] = {} if redis is None else {  # else each replica keeps its own
        "flood": RedisFlood(client=redis, prefix=prefix), "tally": RedisTally(client=redis, prefix=prefix)}

    def sections() -> tuple[LearningPolicy, RouterPolicy, Mapping[str, ModelSpec]]:
        runtime = holder.current
        return runtime.policy.learning, runtime.policy.router, runtime.specs

    if not policy.cache.enabled:  # otherwise the cache has set them (`cache.semantic.blas_threads`)
        from gateway.cache.blas import limit_blas_threads

        limit_blas_threads(1)  # the blend's small products are many times slower with threaded BLAS
    learner = Learner(policy=sections, store=store, **shared)
    if metrics is not None:
        from gateway.learning.metrics import LearningCollector

        metrics.registry.register(LearningCollector(learner))
    return learner


def learning_tasks(learner: Learner | None) -> list[asyncio.Task[None]]:
    """The background sync of outcome rows (none when learning is off)."""
    return [] if learner is None else [asyncio.create_task(learner.run())]


async def close_learner(learner: Learner | None) -> None:
    if learner is not None:
        await learner.aclose()

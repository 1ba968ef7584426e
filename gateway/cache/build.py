"""Builds the response cache from the policy: the store (Redis or in-process) and the embedder.

Embedders are registered by name; any other `semantic.embedder` value names a registry model
that the gateway supplies as an `Embedder` (for example `UpstreamEmbedder`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.cache.blas import limit_blas_threads
from gateway.cache.cache import ResponseCache
from gateway.cache.config import CachePolicy
from gateway.cache.embedding.base import Embedder
from gateway.cache.store.base import CacheStore


def _minilm() -> Embedder:
    from gateway.cache.embedding.batching import BatchingEmbedder
    from gateway.cache.embedding.minilm import MiniLM

    return BatchingEmbedder(MiniLM().encode)


EMBEDDERS: dict[str, Callable[[], Embedder]] = {"minilm": _minilm}


def _store(policy: CachePolicy, redis_url: str | None) -> CacheStore:
    if redis_url is None:
        from gateway.cache.store.memory import MemoryStore

        return MemoryStore()
    from gateway.cache.store.redis import RedisStore

    return RedisStore(url=redis_url, prefix=policy.key_prefix, read_budget_s=policy.lookup_timeout_ms / 1000,
                      write_budget_s=policy.write_timeout_ms / 1000, load_budget_s=policy.load_timeout_ms / 1000,
                      max_connections=policy.max_connections)


def _uses_semantic(policy: CachePolicy) -> bool:
    return policy.enabled and bool(policy.semantic.routes)


async def build_cache(policy: CachePolicy, *, redis_url: str | None, embedder: Embedder | None = None,
                      store: CacheStore | None = None) -> ResponseCache:
    """The cache for a policy. `embedder` overrides `semantic.embedder` (required for registry models);
    `store` overrides the Redis / in-process choice (tests)."""
    if _uses_semantic(policy):
        limit_blas_threads(policy.semantic.blas_threads)
    if embedder is None and _uses_semantic(policy):
        factory = EMBEDDERS.get(policy.semantic.embedder)
        if factory is None:
            raise ValueError(f"cache.semantic.embedder: {policy.semantic.embedder!r} is not a local embedder "
                             f"({', '.join(EMBEDDERS)}); pass an Embedder for registry models")
        embedder = await asyncio.to_thread(factory)  # loads weights: keep it off the event loop
    return ResponseCache(policy=policy, store=store or _store(policy, redis_url), embedder=embedder)

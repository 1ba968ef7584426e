"""Builds the response cache from the policy: the store (Redis or in-process) and the embedder.

Embedders are registered by name; any other `semantic.embedder` value names a registry model
that the gateway supplies as an `Embedder` (for example `UpstreamEmbedder`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from embedding import EmbeddingUnavailable, StaticEmbedder
from gateway.cache.blas import limit_blas_threads
from gateway.cache.cache import ResponseCache
from gateway.cache.config import CachePolicy
from gateway.cache.embedding.base import Embedder
from gateway.cache.store.base import CacheStore
from gateway.cache.verify import VERIFIERS, Verifier

log = logging.getLogger("turnout.cache")

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from gateway.redisbatch import CommandBatch


def _static(shared: StaticEmbedder | None, weights: Path | None) -> Embedder:
    from gateway.cache.embedding.static import StaticCacheEmbedder

    return StaticCacheEmbedder(shared or StaticEmbedder.load(weights))


def _minilm(_: StaticEmbedder | None, weights: Path | None) -> Embedder:
    from embedding.minilm import MiniLM
    from gateway.cache.embedding.batching import BatchingEmbedder

    return BatchingEmbedder(MiniLM.load(weights).encode)


EMBEDDERS: dict[str, Callable[[StaticEmbedder | None, Path | None], Embedder]] = {"static": _static,
                                                                                "minilm": _minilm}


def _store(policy: CachePolicy, redis_url: str | None, redis: Redis | None, batch: CommandBatch | None) -> CacheStore:
    if redis is None and redis_url is None:
        from gateway.cache.store.memory import MemoryStore

        return MemoryStore()
    from gateway.cache.store.redis import RedisStore, redis_client

    owned = redis is None
    if redis is None and redis_url is not None:
        redis = redis_client(redis_url, max_connections=policy.max_connections,
                             timeout_s=policy.write_timeout_ms / 1000)
    assert redis is not None
    return RedisStore(client=redis, prefix=policy.key_prefix, read_budget_s=policy.lookup_timeout_ms / 1000,
                      write_budget_s=policy.write_timeout_ms / 1000, load_budget_s=policy.load_timeout_ms / 1000,
                      owned=owned, batch=batch)


async def _semantic_parts(policy: CachePolicy, embedder: Embedder | None, verifier: Verifier | None,
                          static: StaticEmbedder | None, weights: Path | None
                          ) -> tuple[Embedder | None, Verifier | None]:
    """The embedder and verifier the policy names, loaded off the event loop (unless given)."""
    if embedder is None:
        factory = EMBEDDERS.get(policy.semantic.embedder)
        if factory is None:
            raise ValueError(f"cache.semantic.embedder: {policy.semantic.embedder!r} is not a local embedder "
                             f"({', '.join(EMBEDDERS)}); pass an Embedder for registry models")
        embedder = await asyncio.to_thread(factory, static, weights)
    if verifier is None and policy.semantic.verifier is not None:
        make = VERIFIERS.get(policy.semantic.verifier)
        if make is None:
            raise ValueError(f"cache.semantic.verifier: {policy.semantic.verifier!r} is not one of "
                             f"{', '.join(VERIFIERS)} (or null)")
        verifier = await asyncio.to_thread(make, weights)
    return embedder, verifier


def _uses_semantic(policy: CachePolicy) -> bool:
    return policy.enabled and bool(policy.semantic.routes)


async def build_cache(policy: CachePolicy, *, redis_url: str | None = None, redis: Redis | None = None,
                      embedder: Embedder | None = None, store: CacheStore | None = None,
                      batch: CommandBatch | None = None, static: StaticEmbedder | None = None,
                      verifier: Verifier | None = None, weights: Path | None = None) -> ResponseCache:
    """The cache for a policy: on the gateway's shared `redis` client (bytes responses; not closed by
    the cache; `batch` pipelines its lookups with the rate limits'), on a client of its own for
    `redis_url`, or in-process when neither is given.
    `embedder` overrides `semantic.embedder` (required for registry models); `static` is the request
    embedding the gateway already loaded; `verifier` overrides `semantic.verifier`; `weights` is a
    directory of embedding weights other than the shipped ones; `store` overrides the store (tests).
    Missing weights turn semantic lookup off with one error line; the exact layer still serves."""
    if _uses_semantic(policy):
        limit_blas_threads(policy.semantic.blas_threads)
        try:
            embedder, verifier = await _semantic_parts(policy, embedder, verifier, static, weights)
        except EmbeddingUnavailable as exc:  # one line naming the fix; the exact layer still serves
            log.error("semantic cache off: %s", exc)
            policy = policy.model_copy(update={"semantic": policy.semantic.model_copy(update={"routes": {}})})
    return ResponseCache(policy=policy, store=store or _store(policy, redis_url, redis, batch), embedder=embedder,
                         verifier=verifier)

"""The request embedding as the cache's embedder: the same static table the router uses.

The request path hands the cache the vector it already computed (`CacheRequest.embedding`); this
wrapper embeds only what arrives without one (a store after a redacting guardrail, tests, tools).
"""

from __future__ import annotations

from collections.abc import Sequence

from embedding import StaticEmbedder
from gateway.cache.embedding.base import Matrix


class StaticCacheEmbedder:
    def __init__(self, static: StaticEmbedder) -> None:
        self.static = static

    async def embed(self, texts: Sequence[str]) -> Matrix:
        return self.static.encode(texts)  # tens of microseconds a text: no thread

"""The in-process store's own clock-driven behaviour (the Redis TTL is tested in test_redis.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.cache import ResponseCache
from gateway.cache.embedding.base import Matrix
from gateway.cache.store.memory import MemoryStore

from .conftest import answer, chat, policy
from .test_partitions import HashEmbedder


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_entries_expire_after_their_ttl_and_report_their_age() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    cache = ResponseCache(policy=policy(ttl_s=60), store=store, embedder=HashEmbedder(), clock=clock)
    await cache.store(await cache.lookup(chat("What is Redis?")), answer("a store"))
    clock.now += 59
    assert (await cache.lookup(chat("What is Redis?"))).status == "hit-exact"
    assert (await cache.lookup(chat("what is redis"))).status == "hit-semantic"
    clock.now += 2
    assert (await cache.lookup(chat("What is Redis?"))).status == "miss"
    assert (await cache.lookup(chat("what is redis"))).status == "miss"
    got = await cache.lookup(chat("fresh question"))
    assert got.age_s is None
    await cache.store(got, answer("x"))
    hit = await cache.lookup(chat("fresh question"))
    clock.now += 5
    again = await cache.lookup(chat("fresh question"))
    assert hit.age_s == 0.0 and again.age_s == 5.0


class StuckEmbedder:
    """A fake at our Embedder interface that never answers in time."""

    async def embed(self, texts: Sequence[str]) -> Matrix:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")


async def test_a_stuck_embedder_costs_one_budget_and_exact_hits_still_work() -> None:
    cache = ResponseCache(policy=policy(semantic_overrides={"embed_timeout_ms": 50}), store=MemoryStore(),
                          embedder=StuckEmbedder())
    started = asyncio.get_running_loop().time()
    first = await cache.lookup(chat("What is Redis?"))
    assert (first.status, first.reason) == ("miss", "embed-error")
    assert asyncio.get_running_loop().time() - started < 1.0
    assert await cache.store(first, answer("a store"))
    assert (await cache.lookup(chat("What is Redis?"))).status == "hit-exact"
    assert cache.stats.embed_errors >= 2  # the lookup, and the store's retry to embed

"""The in-process store's own clock-driven behaviour (the Redis TTL is tested in test_redis.py)."""

from __future__ import annotations

from gateway.cache import ResponseCache
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

"""ResponseCache behaviour, identical on both stores: the in-process one and the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from embedding.minilm import MiniLM
from gateway.cache import CacheDirectives, CachePolicy, ResponseCache, build_cache
from gateway.cache.embedding.batching import BatchingEmbedder
from gateway.cache.store.base import Entry
from gateway.cache.store.memory import MemoryStore

from .conftest import REDIS_URL, answer, chat, policy

MakeCache = Callable[..., Awaitable[ResponseCache]]


@pytest.fixture(params=["memory", "redis"])
async def make_cache(request: pytest.FixtureRequest, prefix: str, minilm: MiniLM) -> AsyncIterator[MakeCache]:
    built: list[ResponseCache] = []

    async def make(**overrides: Any) -> ResponseCache:
        url = REDIS_URL if request.param == "redis" else None
        cache = await build_cache(policy(prefix, **overrides), redis_url=url,
                                  embedder=BatchingEmbedder(minilm.encode))
        built.append(cache)
        return cache

    yield make
    for cache in built:
        await cache.aclose()


async def test_exact_hit_after_store(make_cache: MakeCache) -> None:
    cache = await make_cache()
    first = await cache.lookup(chat("What is Redis?"))
    assert first.status == "miss"
    assert await cache.store(first, answer("An in-memory store."))
    hit = await cache.lookup(chat("What is Redis?", stream=True))
    assert hit.status == "hit-exact" and hit.header() == "hit-exact"
    assert hit.response is not None and hit.response["choices"][0]["message"]["content"] == "An in-memory store."
    assert cache.stats.hits_exact == 1 and cache.stats.stores == 1


async def test_semantic_hit_on_a_paraphrase(make_cache: MakeCache) -> None:
    cache = await make_cache()
    await cache.store(await cache.lookup(chat("How do I reverse a list in Python?")), answer("Use reversed()."))
    hit = await cache.lookup(chat("How can I reverse a list in Python?"))
    assert hit.status == "hit-semantic"
    assert hit.similarity is not None and 0.95 <= hit.similarity < 1.0
    assert hit.header().startswith("hit-semantic; similarity=0.9")
    unrelated = await cache.lookup(chat("How do I sort a dictionary by value in Python?"))
    assert unrelated.status == "miss" and unrelated.searched_semantic
    exact_only = await cache.lookup(chat("How do I reverse a list in Python?", route="other"))
    assert exact_only.status == "miss" and not exact_only.searched_semantic


async def test_guard_rejects_reversed_and_changed_numbers(make_cache: MakeCache) -> None:
    cache = await make_cache()
    rice = "How many calories are in {} grams of cooked white rice?"
    for question in ("How do I convert Celsius to Fahrenheit?", rice.format(200)):
        await cache.store(await cache.lookup(chat(question)), answer("cached"))
    reversed_ = await cache.lookup(chat("How do I convert Fahrenheit to Celsius?"))
    numbers = await cache.lookup(chat(rice.format(300)))
    assert (reversed_.status, reversed_.reason) == ("miss", "guard:order")
    assert (numbers.status, numbers.reason) == ("miss", "guard:numbers")
    assert cache.stats.guard_rejections == 2


async def test_tenant_b_never_gets_tenant_a_answer(make_cache: MakeCache) -> None:
    cache = await make_cache()
    await cache.store(await cache.lookup(chat("What is my account balance?", tenant="a")), answer("A's secret"))
    for question in ("What is my account balance?", "what is my account balance"):
        got = await cache.lookup(chat(question, tenant="b"))
        assert got.status == "miss" and got.response is None


async def test_follow_up_hits_only_inside_its_conversation(make_cache: MakeCache) -> None:
    cache = await make_cache()
    conversation = ("Tell me about the Eiffel Tower", "It is a tower in Paris.")
    await cache.store(await cache.lookup(chat("How tall is it?", history=conversation)), answer("330 m"))
    assert (await cache.lookup(chat("How tall is it?", history=conversation))).status == "hit-exact"
    other = ("Tell me about the Burj Khalifa", "It is a tower in Dubai.")
    assert (await cache.lookup(chat("How tall is it?", history=other))).status == "miss"
    assert (await cache.lookup(chat("How tall is it?"))).status == "miss"


async def test_cache_control_directives(make_cache: MakeCache) -> None:
    cache = await make_cache()
    no_cache = await cache.lookup(chat("q1", directives=CacheDirectives(no_cache=True)))
    assert (no_cache.status, no_cache.reason) == ("bypass", "no-cache")
    assert await cache.store(no_cache, answer("a1"))  # no-cache still stores
    assert (await cache.lookup(chat("q1"))).status == "hit-exact"
    no_store = await cache.lookup(chat("q2", directives=CacheDirectives(no_store=True)))
    assert not await cache.store(no_store, answer("a2"))
    assert (await cache.lookup(chat("q2"))).status == "miss"
    await asyncio.sleep(0.01)
    assert (await cache.lookup(chat("q1", directives=CacheDirectives(max_age=0)))).status == "miss"
    assert (await cache.lookup(chat("q1", directives=CacheDirectives(max_age=60)))).status == "hit-exact"


async def test_only_complete_successes_are_stored(make_cache: MakeCache) -> None:
    cache = await make_cache()
    truncated = await cache.lookup(chat("write a poem"))
    assert not await cache.store(truncated, answer("Roses are", finish="length"))
    tools = await cache.lookup(chat("weather?"))
    assert not await cache.store(tools, answer("", tool_calls=[{"id": "c", "type": "function"}]))
    n2 = await cache.lookup(chat("write a poem", n=2))
    assert n2.status == "bypass" and not await cache.store(n2, answer("x"))
    assert (await cache.lookup(chat("write a poem"))).status == "miss"
    assert cache.stats.store_skips == 3


async def test_size_cap_trims_least_recently_used(make_cache: MakeCache) -> None:
    cache = await make_cache(max_entries_per_partition=3)
    for i in range(3):
        await cache.store(await cache.lookup(chat(f"question number {i}")), answer(f"a{i}"))
    assert (await cache.lookup(chat("question number 0"))).status == "hit-exact"  # 0 is now recent
    await cache.store(await cache.lookup(chat("question number 3")), answer("a3"))
    statuses = [(await cache.lookup(chat(f"question number {i}"))).status for i in range(4)]
    assert statuses == ["hit-exact", "miss", "hit-exact", "hit-exact"]


async def test_single_flight_calls_upstream_once(make_cache: MakeCache) -> None:
    cache = await make_cache()
    calls = 0

    async def serve() -> str:
        nonlocal calls
        lookup = await cache.lookup(chat("Explain single flight"))
        async with cache.single_flight(lookup) as flight:
            if flight.hit:
                assert flight.response is not None
                return str(flight.status)
            calls += 1
            await asyncio.sleep(0.2)
            await cache.store(flight, answer("once"))
            return "upstream"

    results = await asyncio.gather(*(serve() for _ in range(5)))
    assert calls == 1
    assert sorted(results) == ["hit-exact"] * 4 + ["upstream"]


async def test_single_flight_followers_call_upstream_when_leader_fails(make_cache: MakeCache) -> None:
    cache = await make_cache()
    calls = 0

    async def serve() -> None:
        nonlocal calls
        lookup = await cache.lookup(chat("flaky question"))
        async with cache.single_flight(lookup) as flight:
            assert not flight.hit
            calls += 1
            await asyncio.sleep(0.05)
            await cache.store(flight, answer("cut", finish="length"))  # not storable

    await asyncio.gather(*(serve() for _ in range(3)))
    assert calls == 3


async def test_purge_by_tenant_and_by_route(make_cache: MakeCache) -> None:
    cache = await make_cache()
    for tenant, route in (("a", "auto"), ("a", "fast"), ("b", "auto")):
        await cache.store(await cache.lookup(chat("hello there", tenant=tenant, route=route)), answer("hi"))
    assert await cache.purge(tenant="a") == 2
    assert (await cache.lookup(chat("hello there", tenant="a"))).status == "miss"
    assert (await cache.lookup(chat("hello there", tenant="b"))).status == "hit-exact"
    assert await cache.purge(route="auto") == 1
    assert (await cache.lookup(chat("hello there", tenant="b"))).status == "miss"
    assert (await cache.lookup(chat("hello there!", tenant="b"))).status == "miss"  # semantic index reset too


async def test_disabled_cache_bypasses(make_cache: MakeCache) -> None:
    cache = await make_cache(enabled=False)
    got = await cache.lookup(chat("anything"))
    assert (got.status, got.reason) == ("bypass", "disabled")
    assert not await cache.store(got, answer("x"))


def test_policy_rejects_unknown_keys_and_floor_above_default() -> None:
    with pytest.raises(ValueError, match="extra"):
        CachePolicy.model_validate({"ttl": 3})
    with pytest.raises(ValueError, match="min_threshold"):
        CachePolicy.model_validate({"semantic": {"threshold": 0.8, "min_threshold": 0.9}})


async def test_a_lookup_that_raced_a_finished_flight_gets_its_answer(make_cache: MakeCache) -> None:
    cache = await make_cache()
    late = await cache.lookup(chat("what a race"))  # looks up before the other request stores
    first = await cache.lookup(chat("what a race"))
    async with cache.single_flight(first) as flight:
        assert not flight.hit
        assert await cache.store(flight, answer("stored meanwhile"))
    async with cache.single_flight(late) as flight:
        assert flight.hit and flight.reason == "single-flight"


class CountingStore(MemoryStore):
    """The in-process store, counting reads (a fake at our own `CacheStore` interface)."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, partition: str, key: str) -> Entry | None:
        self.gets += 1
        return await super().get(partition, key)


async def test_a_plain_miss_reads_the_store_once() -> None:
    store = CountingStore()
    cache = await build_cache(policy(semantic=False), store=store)
    lookup = await cache.lookup(chat("nobody asked this before"))
    async with cache.single_flight(lookup) as flight:
        assert not flight.hit
        await cache.store(flight, answer("fresh"))
    assert store.gets == 1
    await cache.aclose()

"""Against the real Redis: replicas sharing entries, restart survival, TTL, key layout, Redis failures."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from embedding.minilm import MiniLM
from gateway.cache import ResponseCache, build_cache
from gateway.cache.embedding.batching import BatchingEmbedder
from tests.conftest import free_port

from .conftest import REDIS_URL, answer, chat, policy

pytestmark = pytest.mark.redis


@pytest.fixture
async def caches(prefix: str, minilm: MiniLM) -> AsyncIterator[list[ResponseCache]]:
    built: list[ResponseCache] = []
    yield built
    for cache in built:
        await cache.aclose()


async def replica(built: list[ResponseCache], prefix: str, minilm: MiniLM, url: str = REDIS_URL,
                  **overrides: object) -> ResponseCache:
    cache = await build_cache(policy(prefix, **overrides), redis_url=url,
                              embedder=BatchingEmbedder(minilm.encode))
    built.append(cache)
    return cache


async def test_another_replica_finds_a_new_entry_within_a_second(
        caches: list[ResponseCache], prefix: str, minilm: MiniLM) -> None:
    a, b = await replica(caches, prefix, minilm), await replica(caches, prefix, minilm)
    assert (await b.lookup(chat("How do I reverse a list in Python?"))).status == "miss"  # b loads the index
    await a.store(await a.lookup(chat("How do I reverse a list in Python?")), answer("reversed()"))
    started = time.monotonic()
    got = await b.lookup(chat("How can I reverse a list in Python?"))
    while got.status != "hit-semantic" and time.monotonic() - started < 1.0:
        await asyncio.sleep(0.05)
        got = await b.lookup(chat("How can I reverse a list in Python?"))
    assert got.status == "hit-semantic"
    assert time.monotonic() - started < 1.0


async def test_a_restarted_gateway_sees_old_entries(caches: list[ResponseCache], prefix: str,
                                                    minilm: MiniLM) -> None:
    old = await replica(caches, prefix, minilm)
    await old.store(await old.lookup(chat("What is the boiling point of water?")), answer("100 C"))
    await old.aclose()
    caches.remove(old)
    new = await replica(caches, prefix, minilm)
    assert (await new.lookup(chat("What is the boiling point of water?"))).status == "hit-exact"
    assert (await new.lookup(chat("What's the boiling point of water?"))).status == "hit-semantic"


async def test_entries_expire_after_their_ttl(caches: list[ResponseCache], prefix: str, minilm: MiniLM) -> None:
    cache = await replica(caches, prefix, minilm, ttl_s=1)
    await cache.store(await cache.lookup(chat("short lived question")), answer("soon gone"))
    assert (await cache.lookup(chat("short lived question"))).status == "hit-exact"
    await asyncio.sleep(1.2)
    assert (await cache.lookup(chat("short lived question"))).status == "miss"
    assert (await cache.lookup(chat("short-lived question"))).status == "miss"


async def test_keys_are_hash_tagged_per_partition_and_expire(caches: list[ResponseCache], prefix: str,
                                                            minilm: MiniLM) -> None:
    cache = await replica(caches, prefix, minilm)
    await cache.store(await cache.lookup(chat("layout question")), answer("x"))
    client = redis.Redis.from_url(REDIS_URL)
    keys = [k.decode() for k in client.scan_iter(match=f"{prefix}:*")]
    partition_keys = [k for k in keys if ":idx:" not in k]
    tags = {k.split("{", 1)[1].split("}", 1)[0] for k in partition_keys}
    assert len(tags) == 1 and len(partition_keys) == 4  # entry, vectors, lru, log
    assert all(client.ttl(k) > 0 for k in keys)
    client.close()


async def test_closed_port_bypasses_without_errors(caches: list[ResponseCache], prefix: str,
                                                   minilm: MiniLM) -> None:
    cache = await replica(caches, prefix, minilm, url=f"redis://127.0.0.1:{free_port()}/0")
    lookup = await cache.lookup(chat("anything"))
    assert (lookup.status, lookup.reason) == ("bypass", "store-error")
    assert not await cache.store(lookup, answer("x"))
    assert cache.stats.backend_errors == 1 and cache.stats.bypasses == 1


async def test_a_store_is_one_redis_command(caches: list[ResponseCache], prefix: str, minilm: MiniLM) -> None:
    """Entry, vector, LRU, change log and both purge indexes are written by one script: a store sends
    Redis one command (on the request path's round trip), and purging by tenant or route still works."""
    cache = await replica(caches, prefix, minilm)
    await cache.store(await cache.lookup(chat("warm the script cache", tenant="t1")), answer("ok"))
    lookup = await cache.lookup(chat("How do I sort a dict by value?", tenant="t1"))
    client = redis.Redis.from_url(REDIS_URL)
    seen: list[dict[str, Any]] = []
    with client.monitor() as monitor:
        def watch() -> None:
            for command in monitor.listen():
                if command["command"] == "ECHO turnout-test-done":
                    return
                if command["client_type"] != "lua" and prefix in command["command"]:
                    seen.append(command)
        watcher = asyncio.get_running_loop().run_in_executor(None, watch)
        await asyncio.sleep(0.2)  # MONITOR is on before the store
        assert await cache.store(lookup, answer("sorted(d.items(), key=...)"))
        redis.Redis.from_url(REDIS_URL).echo("turnout-test-done")
        await asyncio.wait_for(watcher, 5)
    assert [c["command"].split()[0] for c in seen] == ["EVALSHA"]
    index_keys = list(client.scan_iter(match=f"{prefix}:idx:*"))
    assert len(index_keys) == 2 and all(client.ttl(k) > 0 for k in index_keys)  # the tenant's, the route's
    client.close()
    assert await cache.purge(tenant="t1") == 2
    assert (await cache.lookup(chat("How do I sort a dict by value?", tenant="t1"))).status == "miss"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    yield port, tmp_path
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, check=False)


def start_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    args = ["--port", str(port), "--save", "", "--appendonly", "no", "--enable-debug-command", "yes"]
    process = subprocess.Popen(["redis-server", *args, "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    client.close()
    return process


async def test_redis_killed_and_restarted_mid_traffic(caches: list[ResponseCache], minilm: MiniLM,
                                                      own_redis: tuple[int, Path]) -> None:
    port, workdir = own_redis
    server = start_redis(port, workdir)
    cache = await replica(caches, "turnout:cache", minilm, url=f"redis://127.0.0.1:{port}/0",
                          retry_after_ms=100)
    await cache.store(await cache.lookup(chat("before the crash")), answer("stored"))
    assert (await cache.lookup(chat("before the crash"))).status == "hit-exact"
    seen: set[str] = set()
    stop, repeated = asyncio.Event(), asyncio.Event()

    async def traffic(worker: int) -> None:  # requests keep coming; none may fail
        i = 0
        while not stop.is_set():
            lookup = await cache.lookup(chat(f"worker {worker} question {i % 7}"))
            seen.add(lookup.status)
            if lookup.status == "hit-exact":
                repeated.set()
            if lookup.status == "miss":
                await cache.store(lookup, answer("fresh"))
            i += 1
            await asyncio.sleep(0.005)

    workers = [asyncio.create_task(traffic(w)) for w in range(4)]
    with contextlib.suppress(TimeoutError):  # traffic until repeats hit (seconds on a busy machine), then the crash
        await asyncio.wait_for(repeated.wait(), 10)
    server.kill()
    server.wait()
    await asyncio.sleep(0.3)
    assert (await cache.lookup(chat("during the outage"))).status == "bypass"
    assert cache.stats.backend_errors >= 1
    server = start_redis(port, workdir)  # empty: it was started without persistence
    await asyncio.sleep(0.4)  # past retry_after_ms: the cache reconnects on its own
    lookup = await cache.lookup(chat("after the restart"))
    assert lookup.status == "miss"
    assert await cache.store(lookup, answer("fresh"))
    assert (await cache.lookup(chat("after the restart"))).status == "hit-exact"
    stop.set()
    await asyncio.gather(*workers)  # re-raises anything a request raised
    assert {"bypass", "hit-exact"} <= seen
    server.kill()
    server.wait()


async def test_slow_redis_is_bypassed_within_the_budget(caches: list[ResponseCache], minilm: MiniLM,
                                                        own_redis: tuple[int, Path]) -> None:
    port, workdir = own_redis
    server = start_redis(port, workdir)
    cache = await replica(caches, "turnout:cache", minilm, url=f"redis://127.0.0.1:{port}/0",
                          lookup_timeout_ms=200, retry_after_ms=0)
    warm = [(await cache.lookup(chat("warm up the connection"))).status for _ in range(3)]
    assert "miss" in warm
    timeouts = cache.stats.backend_timeouts
    blocker = await asyncio.create_subprocess_exec("redis-cli", "-p", str(port), "debug", "sleep", "1.5",
                                                   stdout=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(0.2)
    started = time.monotonic()
    got = await cache.lookup(chat("while redis sleeps"))
    assert got.status == "bypass" and time.monotonic() - started < 1.0
    assert cache.stats.backend_timeouts == timeouts + 1
    await blocker.wait()
    server.kill()
    server.wait()


async def test_more_concurrent_requests_than_connections_wait_instead_of_bypassing(
        caches: list[ResponseCache], prefix: str, minilm: MiniLM) -> None:
    cache = await replica(caches, prefix, minilm, max_connections=4, semantic=False)
    await cache.store(await cache.lookup(chat("popular question")), answer("popular answer"))
    results = await asyncio.gather(*(cache.lookup(chat("popular question")) for _ in range(200)))
    assert {r.status for r in results} == {"hit-exact"}
    assert cache.stats.backend_errors == 0


WRITER = """
import asyncio, sys
from gateway.cache import CachePolicy, CacheRequest, build_cache

async def main() -> None:
    cache = await build_cache(CachePolicy.model_validate_json(sys.argv[1]), redis_url=sys.argv[2])
    request = CacheRequest("default", "auto", {"messages": [{"role": "user", "content": sys.argv[3]}]})
    body = {"choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "from the other process"}}]}
    assert await cache.store(await cache.lookup(request), body)
    await cache.aclose()

asyncio.run(main())
"""


async def test_an_entry_from_another_gateway_process_is_found(caches: list[ResponseCache], prefix: str,
                                                              minilm: MiniLM) -> None:
    shipped = policy(prefix, semantic_overrides={"verifier": "minilm"})  # both processes: the shipped pipeline
    reader = await build_cache(shipped, redis_url=REDIS_URL)
    caches.append(reader)
    assert (await reader.lookup(chat("How do I undo my last git commit?"))).status == "miss"
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, shipped.model_dump_json(), REDIS_URL,
        "How do I undo the last git commit?")
    assert await writer.wait() == 0
    started = time.monotonic()
    got = await reader.lookup(chat("How do I undo my last git commit?"))
    while got.status != "hit-semantic" and time.monotonic() - started < 1.0:
        await asyncio.sleep(0.05)
        got = await reader.lookup(chat("How do I undo my last git commit?"))
    assert got.status == "hit-semantic" and got.response is not None
    assert got.response["choices"][0]["message"]["content"] == "from the other process"


async def test_on_the_gateway_shared_client_which_it_does_not_close(prefix: str, minilm: MiniLM) -> None:
    from redis.asyncio import Redis

    shared = Redis.from_url(REDIS_URL)
    cache = await build_cache(policy(prefix), redis=shared, embedder=BatchingEmbedder(minilm.encode))
    await cache.store(await cache.lookup(chat("shared client question")), answer("x"))
    assert (await cache.lookup(chat("shared client question"))).status == "hit-exact"
    await cache.aclose()
    assert await shared.ping()
    await shared.aclose()


async def test_a_replica_behind_the_trimmed_log_reloads(prefix: str) -> None:
    from gateway.cache import CacheDirectives

    from .test_partitions import HashEmbedder

    reader = await build_cache(policy(prefix), redis_url=REDIS_URL, embedder=HashEmbedder())
    writer = await build_cache(policy(prefix), redis_url=REDIS_URL, embedder=HashEmbedder())
    await writer.store(await writer.lookup(chat("entry 0")), answer("a"))
    assert (await reader.lookup(chat("Entry 0!"))).status == "hit-semantic"  # the reader's index is loaded
    no_cache = CacheDirectives(no_cache=True)

    async def put(i: int) -> None:
        await writer.store(await writer.lookup(chat(f"entry {i}", directives=no_cache)), answer("a"))

    for start in range(1, 2300, 100):  # past the log's ~1,000 entries (trimmed approximately)
        await asyncio.gather(*(put(i) for i in range(start, start + 100)))
    assert writer.stats.stores == 2301
    for text in ("Entry 2300!", "Entry 5!"):
        got = await reader.lookup(chat(text))
        for _ in range(20):  # the reload runs in the background
            if got.reason != "index-loading":
                break
            await asyncio.sleep(0.05)
            got = await reader.lookup(chat(text))
        assert got.status == "hit-semantic", got.reason
    await reader.aclose()
    await writer.aclose()

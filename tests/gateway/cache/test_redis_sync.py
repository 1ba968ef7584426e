"""The cache's sync reads and writes on the request path's batch: what another replica wrote arrives, a
burst of it included, and a cache command that fails in a batch leaves the rate-limit check beside it
its verdict."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.cache import build_cache
from gateway.cache.store.base import CacheUnavailable
from gateway.cache.store.redis import RedisStore
from gateway.limits.ratelimit import Quota, RateLimiter
from gateway.redisbatch import CommandBatch
from gateway.redisconn import connect

from .conftest import REDIS_URL, answer, chat, policy
from .test_partitions import HashEmbedder

pytestmark = pytest.mark.redis


@pytest.mark.parametrize("burst", [3, 100])  # a few ride the batch, a burst is read on a connection of its own
async def test_what_another_replica_wrote_is_found_on_the_next_lookup(prefix: str, burst: int) -> None:
    reader = await build_cache(policy(prefix), redis_url=REDIS_URL, embedder=HashEmbedder())
    writer = await build_cache(policy(prefix), redis_url=REDIS_URL, embedder=HashEmbedder())
    try:
        await writer.store(await writer.lookup(chat("entry zero")), answer("0"))
        assert (await reader.lookup(chat("Entry zero!"))).status == "hit-semantic"  # the reader's index is loaded
        for i in range(1, burst + 1):
            await writer.store(await writer.lookup(chat(f"entry {i}")), answer(str(i)))
        hits = [await reader.lookup(chat(f"Entry {i}!")) for i in (1, burst)]
        assert [h.status for h in hits] == ["hit-semantic", "hit-semantic"]
        assert [h.response["choices"][0]["message"]["content"] for h in hits if h.response] == ["1", str(burst)]
        assert reader.stats.backend_errors == writer.stats.backend_errors == 0
    finally:
        await reader.aclose()
        await writer.aclose()


async def test_a_failing_cache_command_leaves_the_rate_limit_check_in_its_batch_its_verdict(prefix: str) -> None:
    client = connect(REDIS_URL, max_connections=8, timeout_s=2)
    batch = CommandBatch(client)
    store = RedisStore(client=client, prefix=prefix, read_budget_s=2, write_budget_s=2, load_budget_s=2,
                       owned=False, batch=batch)
    limiter = RateLimiter(redis=client, batch=batch)
    try:
        await client.set(f"{prefix}:{{p}}:log", "not a stream")  # XRANGE on it: WRONGTYPE
        quota = Quota(f"{prefix}:rl:req", "requests", 10, 1)
        await limiter.check([quota])  # the script is loaded
        before = batch.batches
        sync, verdict = await asyncio.gather(store.changes("p", "0-0"), limiter.check([quota]),
                                             return_exceptions=True)
        assert batch.batches == before + 1  # one round trip for both
        assert isinstance(sync, CacheUnavailable) and "WRONGTYPE" in str(sync)
        assert not isinstance(verdict, BaseException) and verdict.allowed
        assert [q.used for q in verdict.quotas] == [2]
    finally:
        await batch.aclose()
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_a_reply_that_arrived_while_the_loop_was_busy_is_in_time() -> None:
    from gateway.cache.store.redis import _within

    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bytes] = loop.create_future()
    loop.call_later(0.01, reply.set_result, b"v")  # Redis answers after 10 ms...
    loop.call_later(0.001, time.sleep, 0.1)  # ...while the loop is busy with other requests' work until 101 ms
    assert await _within(0.05, reply) == b"v"


async def test_a_reply_that_never_comes_is_over_the_budget() -> None:
    from gateway.cache.store.redis import _within

    never: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    with pytest.raises(CacheUnavailable) as caught:
        await _within(0.02, never)
    assert caught.value.timeout and never.cancelled()

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from gateway.limits.ratelimit import Quota, RateLimiter
from gateway.redisconn import connect
from tests.gateway.limits.conftest import REDIS_URL


def rpm(prefix: str, limit: int, cost: int = 1) -> list[Quota]:
    return [Quota(f"{prefix}:rl:req", "requests", limit, cost)]


async def test_admits_up_to_the_limit_then_refuses_with_retry_after(redis: aioredis.Redis, prefix: str) -> None:
    limiter = RateLimiter(redis=redis)
    decisions = [await limiter.check(rpm(prefix, 5)) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    refused = decisions[-1]
    assert refused.retry_after is not None and 0 < refused.retry_after <= 60
    headers = refused.headers()
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert 0 < float(headers["retry-after"]) <= 60
    assert decisions[2].headers()["x-ratelimit-remaining-requests"] == "2"


async def test_all_or_nothing_across_quotas(redis: aioredis.Redis, prefix: str) -> None:
    limiter = RateLimiter(redis=redis)
    quotas = [Quota(f"{prefix}:a", "requests", 10, 1), Quota(f"{prefix}:b", "tokens", 100, 60)]
    assert (await limiter.check(quotas)).allowed
    second = await limiter.check(quotas)
    assert not second.allowed
    # the refused call counted nothing: the request quota still shows one use
    third = await limiter.check([Quota(f"{prefix}:a", "requests", 10, 1)])
    assert third.quotas[0].used == 2
    assert second.headers()["x-ratelimit-remaining-tokens"] == "40"


async def test_tokens_spent_at_the_limit_refuse_even_zero_cost(redis: aioredis.Redis, prefix: str) -> None:
    limiter = RateLimiter(redis=redis)
    tok = [Quota(f"{prefix}:tok", "tokens", 100, 0)]
    assert (await limiter.check(tok)).allowed
    await limiter.add([Quota(f"{prefix}:tok", "tokens", 100, 100)])
    assert not (await limiter.check(tok)).allowed
    await limiter.add([Quota(f"{prefix}:tok", "tokens", 100, -1)])
    assert (await limiter.check(tok)).allowed


async def test_window_slides(redis: aioredis.Redis, prefix: str) -> None:
    limiter = RateLimiter(redis=redis, window_seconds=1)
    assert (await limiter.check(rpm(prefix, 2))).allowed
    assert (await limiter.check(rpm(prefix, 2))).allowed
    refused = await limiter.check(rpm(prefix, 2))
    assert not refused.allowed and refused.retry_after is not None and refused.retry_after <= 1
    await asyncio.sleep(refused.retry_after + 0.05)
    assert (await limiter.check(rpm(prefix, 2))).allowed


async def test_unlimited_quotas_do_not_touch_redis(prefix: str) -> None:
    dead = connect("redis://127.0.0.1:1/0", max_connections=4, timeout_s=0.2)
    decision = await RateLimiter(redis=dead).check([Quota(f"{prefix}:x", "requests", None, 1)])
    assert decision.allowed and decision.headers() == {}
    await dead.aclose()


async def test_two_clients_under_concurrent_load_never_exceed_the_limit(prefix: str) -> None:
    clients = [aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(REDIS_URL, max_connections=32))
               for _ in range(2)]
    limiters = [RateLimiter(redis=c) for c in clients]
    try:
        results = []
        for _ in range(20):  # in waves: each replica pipelines its checks, and the waves interleave in Redis
            results += await asyncio.gather(*(limiters[i % 2].check(rpm(prefix, 50)) for i in range(20)))
        assert sum(d.allowed for d in results) == 50
        by_limiter = [sum(d.allowed for j, d in enumerate(results) if j % 2 == i) for i in range(2)]
        assert all(n > 0 for n in by_limiter)  # both replicas admitted some
    finally:
        await clients[0].delete(f"{prefix}:rl:req")  # rpm() keys
        for c in clients:
            await c.aclose()


async def test_running_sum_matches_the_buckets_through_gaps_and_slides(redis: aioredis.Redis, prefix: str) -> None:
    """The script keeps a running sum and drops only the buckets that left the window: after every
    check, what it reports equals the sum and the oldest of the hash's own in-window buckets, through
    bursts, gaps longer than the window, returned reservations and refusals."""
    import random

    rng = random.Random(7)
    window = 2
    limiter = RateLimiter(redis=redis, window_seconds=window)
    key = f"{prefix}:sum:req"
    compared = 0
    for step in range(60):
        cost = rng.choice([1, 1, 2, 5, 0])
        limit = rng.choice([8, 12, 1000])
        if step % 9 == 4:
            await limiter.add([Quota(key, "requests", limit, -1)])
        before = (await redis.time())[0]
        decision = await limiter.check([Quota(key, "requests", limit, cost)])
        after_s, after_us = await redis.time()
        if before == after_s:  # the check ran within this second: recompute it from the buckets
            buckets = {int(f): int(v) for f, v in (await redis.hgetall(key)).items() if f not in (b"n", b"lo")}
            live = {b: c for b, c in buckets.items() if b > after_s - window}
            assert set(buckets) == set(live)  # buckets that left the window are gone
            state = decision.quotas[0]
            assert state.used == sum(live.values())
            if live:
                expected_reset = min(live) + window - (after_s + after_us / 1e6)
                assert abs(state.reset_seconds - expected_reset) < 0.05
            if not decision.allowed:
                assert decision.retry_after is not None and 0 < decision.retry_after <= window
            compared += 1
        await asyncio.sleep(rng.choice([0.0, 0.0, 0.05, 0.3, 0.9, 2.5]) if step % 7 == 0 else 0.02)
    assert compared >= 40

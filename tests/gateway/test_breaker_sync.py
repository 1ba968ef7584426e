"""Breaker openings shared between two replicas through the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.breaker_sync import RedisBreakerSync
from gateway.redisconn import connect
from router.breakers import Breakers
from router.errors import UpstreamUnavailable
from router.policy import BreakerPolicy

pytestmark = pytest.mark.redis
POLICY = BreakerPolicy(fail_max=1, reset_timeout_s=0.4, shared=True, sync_interval_s=0.05)


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url("redis://127.0.0.1:6379/0", socket_timeout=2, socket_connect_timeout=2)
    yield redis
    await redis.aclose()


async def trip(breakers: Breakers, model: str) -> None:
    with pytest.raises(UpstreamUnavailable), breakers.get(model).calling():
        raise UpstreamUnavailable("down")


async def test_an_opening_on_one_replica_opens_the_other_until_it_probes(client: aioredis.Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    a, b = Breakers(POLICY), Breakers(POLICY)
    sync_a = RedisBreakerSync(redis=client, breakers=a, prefix=prefix)
    sync_b = RedisBreakerSync(redis=client, breakers=b, prefix=prefix)
    tasks = [asyncio.create_task(sync_a.run()), asyncio.create_task(sync_b.run())]
    try:
        b.get("m")  # known on b, closed
        await trip(a, "m")
        await asyncio.sleep(0.2)
        assert b.states()["m"] == "open"
        assert await client.hget(sync_a.key, "m") is not None
        # after the reset timeout b probes by itself, and a successful probe closes it for good
        await asyncio.sleep(0.45)
        assert b.states()["m"] == "half-open"
        with b.get("m").calling():
            pass
        await asyncio.sleep(0.2)
        assert b.states()["m"] == "closed"
        assert await client.exists(sync_a.key) == 0  # the openings expired with the reset timeout
    finally:
        sync_a.close()
        sync_b.close()
        for task in tasks:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)


async def test_an_applied_opening_is_not_echoed_back(client: aioredis.Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    a, b = Breakers(POLICY), Breakers(POLICY)
    sync_a = RedisBreakerSync(redis=client, breakers=a, prefix=prefix)
    sync_b = RedisBreakerSync(redis=client, breakers=b, prefix=prefix)
    await trip(a, "m")
    await sync_a.push()
    first = await client.hget(sync_a.key, "m")
    await sync_b.pull()
    assert b.states()["m"] == "open"
    await sync_b.push()
    assert await client.hget(sync_a.key, "m") == first


async def test_an_opening_reaches_the_other_replica_whatever_else_redis_holds(client: aioredis.Redis) -> None:
    """The openings are one hash: a pull costs the same beside 30,000 cache entries as in an empty
    Redis (a SCAN of the keyspace took longer than the 0.4 s an opening lives, and missed it)."""
    prefix = f"test:{uuid.uuid4().hex}:"
    filler = [f"{prefix}filler:{i}" for i in range(30_000)]
    for start in range(0, len(filler), 5_000):
        await client.mset({k: "x" for k in filler[start:start + 5_000]})
    try:
        a, b = Breakers(POLICY), Breakers(POLICY)
        sync_a = RedisBreakerSync(redis=client, breakers=a, prefix=prefix)
        sync_b = RedisBreakerSync(redis=client, breakers=b, prefix=prefix)
        await trip(a, "m")
        await sync_a.push()
        await sync_b.pull()
        assert b.states()["m"] == "open"
    finally:
        for start in range(0, len(filler), 5_000):
            await client.unlink(*filler[start:start + 5_000])


async def test_redis_down_leaves_breakers_working_alone() -> None:
    dead = connect("redis://127.0.0.1:1/0", max_connections=4, timeout_s=0.2)
    breakers = Breakers(POLICY)
    sync = RedisBreakerSync(redis=dead, breakers=breakers, prefix="x:")
    await trip(breakers, "m")
    await sync.push()
    await sync.pull()
    assert breakers.states()["m"] == "open"
    await dead.aclose()

"""Two real processes, each with its own Redis client and limiter, hammer one limit at the same time."""

from __future__ import annotations

import subprocess
import sys
import time

import redis

from tests.gateway.limits.conftest import REDIS_URL

WORKER = """
import asyncio, sys, time
import redis.asyncio as aioredis
from gateway.limits.ratelimit import Quota, RateLimiter

async def main(key, start):
    client = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(sys.argv[3], max_connections=16))
    limiter = RateLimiter(redis=client)
    await client.ping()
    time.sleep(max(0.0, start - time.time()))
    quota = [Quota(key, "requests", 100, 1)]
    allowed = 0
    for wave in range(30):  # waves of 10, each a pipeline; a Redis barrier starts each wave in both processes
        await client.incr(f"{key}:wave{wave}")  # together, so neither can take the whole limit alone first
        while int(await client.get(f"{key}:wave{wave}") or 0) < 2:
            await asyncio.sleep(0.001)
        allowed += sum(r.allowed for r in await asyncio.gather(*(limiter.check(quota) for _ in range(10))))
    print(allowed)
    await client.aclose()

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


def test_two_processes_never_admit_more_than_the_limit(prefix: str) -> None:
    key = f"{prefix}:rl:procs"
    start = time.time() + 5.0  # both processes imported and connected before either starts, even on a busy box
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, key, str(start), REDIS_URL], stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    counts = []
    for p in procs:
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 0
        counts.append(int(out.strip()))
    redis.Redis.from_url(REDIS_URL).delete(key, *(f"{key}:wave{w}" for w in range(30)))
    assert sum(counts) == 100
    assert all(c > 0 for c in counts), counts

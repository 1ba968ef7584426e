"""CPU per request of the request path's Redis traffic: the rate-limit script and the exact-cache GET
of each request, issued side by side through `CommandBatch` (one pipeline per event-loop turn), by
`--concurrency` requests at a time, against a real Redis. Prints CPU microseconds per request (this
process only: the Redis server's CPU is not counted) and requests per second.

    .venv/bin/python benchmarks/redis_pipeline.py [--requests 20000] [--concurrency 16 64] [--url redis://...]

It measures whatever `gateway.redisbatch.CommandBatch` is in the tree it runs from, so two
implementations are compared by running it on each (e.g. `PYTHONPATH=<other checkout>`).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

from gateway.limits.ratelimit import Quota, RateLimiter
from gateway.redisbatch import CommandBatch


async def _one(limiter: RateLimiter, batch: CommandBatch, key: str, scope: str) -> None:
    quotas = [Quota(f"{scope}:req", "requests", 10**9, 1), Quota(f"{scope}:tok", "tokens", 10**9, 20)]
    checking = asyncio.get_running_loop().create_task(limiter.check(quotas))  # as `GatewayService._admit`:
    await asyncio.gather(checking, batch.call("GET", key))  # both commands leave in one pipeline


def _client(url: str) -> Any:
    """The gateway's own client factory (`gateway.redisconn`), or a plain client in trees without one."""
    try:
        from gateway.redisconn import connect
    except ImportError:
        from redis.asyncio import Redis

        return Redis.from_url(url)
    return connect(url, max_connections=64, timeout_s=2.0)


async def run(url: str, requests: int, concurrency: int) -> tuple[float, float]:
    client = _client(url)
    batch = CommandBatch(client)
    limiter = RateLimiter(redis=client, batch=batch)
    scope = f"bench-rp-{uuid.uuid4().hex[:8]}"
    await _one(limiter, batch, f"{scope}:cache", scope)  # connect, load the script
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:
            await _one(limiter, batch, f"{scope}:cache", scope)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await client.delete(f"{scope}:req", f"{scope}:tok")
    await batch.aclose()
    await client.aclose()
    return cpu / requests * 1e6, requests / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the lowest CPU is printed")
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    print("| concurrency | CPU per request (us) | requests/s |")
    print("|---|---|---|")
    for concurrency in args.concurrency:
        cells = [runner(run(args.url, args.requests, concurrency)) for _ in range(args.repeat)]
        cpu, rate = min(cells)
        print(f"| {concurrency} | {cpu:.1f} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

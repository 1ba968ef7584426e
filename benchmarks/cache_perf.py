"""Cache performance: embedding latency and throughput, lookup latency in large partitions, memory.

    .venv/bin/python benchmarks/cache_perf.py [--redis redis://127.0.0.1:6379/0] [--sizes 10000,100000]

Lookups are measured through `ResponseCache.lookup` on a semantic miss (the slowest path: exact GET,
change-log sync, full scan), with the query embedding precomputed so only the lookup is timed.
Entries are random unit vectors: the scan costs the same whatever the vectors hold.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
import uuid
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from embedding.minilm import MiniLM
from gateway.cache import CacheDirectives, CachePolicy, CacheRequest, ResponseCache, build_cache
from gateway.cache.blas import limit_blas_threads
from gateway.cache.config import SemanticPolicy, SemanticRoute
from gateway.cache.embedding.batching import BatchingEmbedder

Matrix = npt.NDArray[np.float32]
_NO_CACHE = CacheDirectives(no_cache=True)
QUESTION = "How do I configure {} retries with exponential backoff in a Python HTTP client?"


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def embedding(model: MiniLM) -> None:
    embedder = BatchingEmbedder(model.encode)
    await embedder.embed(["warm up"])
    single = []
    for i in range(40):
        started = time.perf_counter()
        await embedder.embed([QUESTION.format(i)])
        single.append((time.perf_counter() - started) * 1000)
    print(f"embedding, one request at a time: p50 {pct(single, 0.5):.1f} ms  p99 {pct(single, 0.99):.1f} ms")
    for concurrency in (8, 32, 64):
        embedder = BatchingEmbedder(model.encode)
        texts = [QUESTION.format(f"client {i}") for i in range(concurrency * 4)]
        latencies: list[float] = []

        async def one(text: str, bench: BatchingEmbedder = embedder, out: list[float] = latencies) -> None:
            started = time.perf_counter()
            await bench.embed([text])
            out.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        for start in range(0, len(texts), concurrency):
            await asyncio.gather(*(one(t) for t in texts[start:start + concurrency]))
        elapsed = time.perf_counter() - started
        print(f"embedding, {concurrency:>2} concurrent: {len(texts) / elapsed:6.0f} requests/s  "
              f"p50 {pct(latencies, 0.5):6.1f} ms  p99 {pct(latencies, 0.99):6.1f} ms  "
              f"mean batch {len(texts) / max(embedder.batches, 1):.1f}")


class FixedEmbedder:
    """Hands out queued vectors in call order (then `vector`): only the lookup itself is timed."""

    def __init__(self, vector: Matrix) -> None:
        self.vector = vector
        self.queue: list[Matrix] = []

    async def embed(self, texts: Sequence[str]) -> Matrix:
        return np.stack([self.queue.pop(0) if self.queue else self.vector for _ in texts])


def request(text: str) -> CacheRequest:
    return CacheRequest(tenant="perf", route="auto", body={"messages": [{"role": "user", "content": text}]})


async def fill(cache: ResponseCache, embedder: FixedEmbedder, n: int, rng: np.random.Generator) -> None:
    vectors = rng.standard_normal((n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    body = {"choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "x" * 200}}]}

    async def put(i: int) -> None:
        req = request(f"stored question number {i}")
        lookup = await cache.lookup(CacheRequest(req.tenant, req.route, req.body, directives=_NO_CACHE))
        await cache.store(lookup, body)

    for start in range(0, n, 200):  # 200 stores in flight at a time, each with its own vector
        batch = range(start, min(n, start + 200))
        embedder.queue = [vectors[i] for i in batch]
        await asyncio.gather(*(put(i) for i in batch))


async def lookups(cache: ResponseCache, embedder: FixedEmbedder, rng: np.random.Generator) -> list[float]:
    times = []
    for i in range(200):
        q = rng.standard_normal(384).astype(np.float32)
        embedder.vector = q / np.linalg.norm(q)
        started = time.perf_counter()
        got = await cache.lookup(request(f"query {i}"))
        if got.status == "miss" and got.reason is None:  # a full semantic lookup, nothing skipped
            times.append((time.perf_counter() - started) * 1000)
    return times


async def partition_sizes(sizes: Sequence[int], redis_url: str | None) -> None:
    limit_blas_threads()
    rng = np.random.default_rng(7)
    prefix = f"bench:cache:{uuid.uuid4().hex[:8]}"
    # Generous budgets: this measures latency; a budget would turn the slow tail into bypasses.
    policy = CachePolicy(enabled=True, key_prefix=prefix, max_entries_per_partition=max(sizes), lookup_timeout_ms=5000,
                         write_timeout_ms=10_000, load_timeout_ms=60_000,
                         semantic=SemanticPolicy(routes={"auto": SemanticRoute()}))
    for size in sizes:
        embedder = FixedEmbedder(np.zeros(384, dtype=np.float32))
        before = await redis_used_memory(redis_url) if redis_url else 0
        writer = await build_cache(policy, redis_url=redis_url, embedder=embedder)
        started = time.perf_counter()
        await fill(writer, embedder, size, rng)
        filled = time.perf_counter() - started
        used = await redis_used_memory(redis_url) - before if redis_url else 0
        reader = writer if redis_url is None else await build_cache(policy, redis_url=redis_url,
                                                                    embedder=embedder)
        started = time.perf_counter()
        await until_loaded(reader)
        load = (time.perf_counter() - started) * 1000  # in-process: no load, the writer is the reader
        times = await lookups(reader, embedder, rng)
        if len(times) < 200:
            print(f"  ({200 - len(times)} of 200 lookups were not full semantic misses: {reader.stats})")
        where = "redis" if redis_url else "in-process"
        print(f"{where:>10} partition of {size:>6}: lookup p50 {pct(times, 0.5):6.2f} ms  "
              f"p99 {pct(times, 0.99):6.2f} ms  (fill {size / filled:.0f} stores/s, first load {load:.0f} ms, "
              f"matrix {reader.index_bytes() / size:.0f} B/entry)")
        if redis_url is not None:
            probe = await build_cache(policy, redis_url=redis_url, embedder=embedder)
            gc.collect()
            tracemalloc.start()
            await until_loaded(probe)
            gc.collect()
            gateway_bytes = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            await probe.aclose()
            print(f"{'':>10} gateway memory: {gateway_bytes / size:.0f} B/entry (a partition's index loaded "
                  "from Redis: matrix with spare rows, keys, query texts)")
            print(f"{'':>10} redis memory: {used / size:.0f} B/entry (used_memory delta; 200-char answer, "
                  "384-d vector, keys)")
            await reader.purge(route="auto")
            await reader.aclose()
        await writer.aclose()


async def until_loaded(cache: ResponseCache) -> None:
    """Lookups until the partition's index is in memory (the first ones start its load)."""
    while True:
        got = await cache.lookup(request("is the partition loaded yet"))
        if got.reason != "index-loading":
            return
        await asyncio.sleep(0.01)


async def redis_used_memory(url: str) -> int:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    info = await client.info("memory")
    await client.aclose()
    return int(info["used_memory"])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--skip-embedding", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]  # --sizes "": embedding figures only
    if not args.skip_embedding:
        await embedding(MiniLM.load())
    if sizes:
        await partition_sizes(sizes, None)
    if sizes and args.redis:
        await partition_sizes(sizes, args.redis)


if __name__ == "__main__":
    asyncio.run(main())

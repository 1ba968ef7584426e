"""Index sync across replicas sharing one store: the change log, a trimmed log, slow first loads."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from gateway.cache import CacheDirectives, ResponseCache
from gateway.cache.embedding.base import Matrix
from gateway.cache.store.base import Changes
from gateway.cache.store.memory import MemoryStore

from .conftest import answer, chat, policy


class HashEmbedder:
    """A fake at our Embedder interface: one random unit vector per text, ignoring case and punctuation."""

    async def embed(self, texts: Sequence[str]) -> Matrix:
        rows = []
        for text in texts:
            folded = "".join(c for c in text.lower() if c.isalnum() or c == " ")
            seed = int.from_bytes(hashlib.sha256(folded.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)


class SlowStore(MemoryStore):
    """The in-process store with slow full loads, like a large partition over the network."""

    async def changes(self, partition: str, cursor: str | None) -> Changes:
        if cursor is None:
            await asyncio.sleep(0.3)
        return await super().changes(partition, cursor)


def replica(store: MemoryStore, **overrides: object) -> ResponseCache:
    return ResponseCache(policy=policy(**overrides), store=store, embedder=HashEmbedder())


async def test_a_reader_behind_a_trimmed_log_reloads_the_partition() -> None:
    store = MemoryStore()
    reader, writer = replica(store), replica(store)
    no_cache = CacheDirectives(no_cache=True)
    await writer.store(await writer.lookup(chat("entry 0", directives=no_cache)), answer("a"))
    assert (await reader.lookup(chat("entry 0!"))).status == "hit-semantic"  # loads the index
    for i in range(1, 2200):  # more changes than the log keeps
        await writer.store(await writer.lookup(chat(f"entry {i}", directives=no_cache)), answer("a"))
    for text in ("Entry 2199!", "Entry 5!"):
        got = await reader.lookup(chat(text))
        assert (got.status, got.similarity) == ("hit-semantic", pytest.approx(1.0, abs=1e-5))


async def test_slow_first_load_does_not_hold_up_lookups() -> None:
    store = SlowStore()
    writer = replica(store)
    await writer.store(await writer.lookup(chat("What is Redis?")), answer("a store"))
    reader = replica(store, lookup_timeout_ms=50)
    started = asyncio.get_running_loop().time()
    first = await reader.lookup(chat("What is Redis?!"))
    assert (first.status, first.reason) == ("miss", "index-loading")
    assert asyncio.get_running_loop().time() - started < 0.2
    await asyncio.sleep(0.35)
    second = await reader.lookup(chat("what is redis"))
    assert second.status == "hit-semantic"
    await reader.aclose()


class CountingStore(MemoryStore):
    """The in-process store with a log read that takes a while and is counted."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def changes(self, partition: str, cursor: str | None) -> Changes:
        if cursor is not None:
            self.reads += 1
            await asyncio.sleep(0.02)
        return await super().changes(partition, cursor)


async def test_concurrent_lookups_share_log_reads_and_still_see_earlier_writes() -> None:
    store = CountingStore()
    reader, writer = replica(store), replica(store)
    no_cache = CacheDirectives(no_cache=True)
    await writer.store(await writer.lookup(chat("entry 0", directives=no_cache)), answer("a"))
    assert (await reader.lookup(chat("entry 0!"))).status == "hit-semantic"  # loads the index
    store.reads = 0
    results = await asyncio.gather(*(reader.lookup(chat(f"question {i}")) for i in range(16)))
    assert all(r.status == "miss" for r in results)
    assert store.reads <= 2  # not one per lookup, in a row
    await writer.store(await writer.lookup(chat("entry 1", directives=no_cache)), answer("b"))
    later = await asyncio.gather(*(reader.lookup(chat("Entry 1!")) for _ in range(8)))
    assert all(r.status == "hit-semantic" for r in later)  # written before they began: seen by all

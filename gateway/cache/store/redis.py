"""The Redis store: plain Redis 6/7 (no modules), keys hash-tagged per partition.

Per partition `P` (under the prefix): `{P}:e:<key>` entry with TTL, `{P}:vec` embeddings (hash),
`{P}:lru` last use (zset), `{P}:log` change log (stream, trimmed). Purge indexes: one set of
partitions per tenant and per route. The client is the Redis layer's (`gateway.redisconn`): its
failures arrive as `RedisUnavailable` and become `CacheUnavailable` here.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis

from gateway.cache.store import scripts
from gateway.cache.store.base import CacheUnavailable, Changes, Entry, Indexed, Placement
from gateway.cache.store.codec import pack_entry, pack_vector, stream_id, unpack_entry, unpack_vector
from gateway.redisbatch import CommandBatch
from gateway.redisconn import RedisUnavailable

T = TypeVar("T")
_LOG_LEN = 1000
_BATCH = 1000
_GRACE_TURNS = 4
"""Turns of the loop a call past its budget still gets: a sync's reply goes from the batch's task to
the sync's task to its caller, one turn each."""
_BATCHED_READ = 64
"""Vectors read on the request path's batch at most: more would lengthen the round trip of the rate-limit
checks that share it."""


async def _within(budget_s: float, work: Awaitable[T]) -> T:
    """`work`'s result; past `budget_s`, `CacheUnavailable` (and `work` is cancelled). The Redis layer's
    `RedisUnavailable` becomes `CacheUnavailable` here.

    The budget is judged when this caller runs again, not when its timer fires, and a call still
    running then gets a few more turns of the loop: a reply read while the event loop was busy with
    other requests, or still being handed from the batch to its caller, counts as in time
    (`asyncio.timeout` would cancel a call whose reply had already arrived). A gateway slowed by its
    own load (16 requests' work between two turns of the loop) is not a slow Redis, and a timeout
    here bypasses the cache for `retry_after_ms`."""
    job = asyncio.ensure_future(work)
    try:
        await asyncio.wait((job,), timeout=budget_s)
        for _ in range(_GRACE_TURNS):
            if job.done():
                break
            await asyncio.sleep(0)
    except BaseException:
        job.cancel()
        raise
    if not job.done():
        job.cancel()
        raise CacheUnavailable(f"redis: over the {budget_s * 1000:.0f} ms budget", timeout=True)
    try:
        return job.result()
    except RedisUnavailable as exc:
        raise CacheUnavailable(str(exc)) from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode_all(raw: list[tuple[bytes, bytes]]) -> list[Indexed]:
    return [unpack_vector(key.decode(), blob) for key, blob in raw]


class RedisStore:
    def __init__(self, *, client: Redis, prefix: str, read_budget_s: float, write_budget_s: float,
                 load_budget_s: float, owned: bool, batch: CommandBatch | None = None) -> None:
        """`client` must return bytes (`decode_responses=False`); `owned`: close it with the store.
        `batch`: shared with the other Redis users of the request path (one round trip for all)."""
        self._redis = client
        self._batch = batch if batch is not None and batch.redis is client else CommandBatch(client)
        self._owned = owned
        self._prefix = prefix
        self._read = read_budget_s
        self._write = write_budget_s
        self._load = load_budget_s
        self._put = self._redis.register_script(scripts.PUT)
        self._sync = self._redis.register_script(scripts.SYNC)
        self._purge = self._redis.register_script(scripts.PURGE)

    def _keys(self, partition: str) -> tuple[str, str, str, str]:
        base = f"{self._prefix}:{{{partition}}}"
        return f"{base}:e:", f"{base}:vec", f"{base}:lru", f"{base}:log"

    def _index_key(self, kind: str, name: str) -> str:
        return f"{self._prefix}:idx:{kind}:{hashlib.sha256(name.encode()).hexdigest()[:24]}"

    async def _run(self, budget_s: float, call: Callable[[], Awaitable[T]]) -> T:
        return await _within(budget_s, call())

    async def get(self, partition: str, key: str) -> Entry | None:
        entry_prefix, _, lru, _ = self._keys(partition)
        blob = await self._run(self._read, lambda: self._batch.call("GET", entry_prefix + key))
        if blob is None:
            return None
        self._batch.send("ZADD", lru, "XX", int(time.time() * 1000), key)  # a hit is a use (LRU)
        return unpack_entry(key, blob)

    async def put(self, placement: Placement, entry: Entry) -> None:
        entry_prefix, vec, lru, log = self._keys(placement.partition)
        packed_vec = b"" if entry.vector is None or entry.query is None else pack_vector(entry.query,
                                                                                          entry.vector)
        ttl = placement.ttl_s

        # one script on the request path's pipelining connection, like `get`: the entry, its vector,
        # the LRU, the change log and the purge indexes (plain Redis: the keys need not share a slot)
        keys = [entry_prefix + entry.key, vec, lru, log, self._index_key("t", placement.tenant),
                self._index_key("r", placement.route)]
        args = [entry.key, pack_entry(entry), packed_vec, ttl, placement.max_entries, int(time.time() * 1000),
                _LOG_LEN, entry_prefix, placement.partition]
        await self._run(self._write, lambda: self._batch.script(self._put.sha, scripts.PUT, keys, args))

    async def changes(self, partition: str, cursor: str | None) -> Changes:
        budget = self._read if cursor is not None else self._load
        return await self._run(budget, lambda: self._changes(partition, cursor))

    async def _changes(self, partition: str, cursor: str | None) -> Changes:
        _, vec, _, log = self._keys(partition)
        if cursor is not None:  # the log and its new vectors in one round trip on the request path's batch
            first, rows, vectors = await self._batch.script(self._sync.sha, scripts.SYNC, [log, vec],
                                                            [cursor, _BATCH, _BATCHED_READ])
            # Entries lost to trimming: the log starts after our cursor and not with what we read next.
            trimmed = (bool(first) and stream_id(first[0][0].decode()) > stream_id(cursor)
                       and (not rows or rows[0][0] != first[0][0]))
            if trimmed or len(rows) == _BATCH:
                return Changes(cursor=cursor, full=False, reload=True)
            return await self._apply_log(vec, cursor, rows, vectors)
        # The cursor first, then the vectors in chunks: a change made meanwhile is also in the log
        # after the cursor, and replaying it is harmless.
        last = await self._redis.xrevrange(log, "+", "-", count=1) or []
        raw: list[tuple[bytes, bytes]] = [kv async for kv in self._redis.hscan_iter(vec, count=2000)]
        changes = Changes(cursor=_text(last[0][0] or b"0-0") if last else "0-0", full=True)
        changes.added = await asyncio.to_thread(_decode_all, raw)  # 100,000 entries: ~0.5 s of CPU
        return changes

    async def _apply_log(self, vec: str, cursor: str, rows: list[Any], vectors: list[bytes | None]) -> Changes:
        """`vectors`: those of every addition in `rows`, in order, or none (a burst: read here, on a
        connection of its own, so as not to lengthen the batch the rate-limit checks share)."""
        changes = Changes(cursor=rows[-1][0].decode() if rows else cursor, full=False)
        added: list[bytes] = []
        every: list[bytes] = []
        for _, fields in rows:  # each field list is [b"op", op, b"k", key] (written by the scripts)
            op, key = fields[1], fields[3]
            if op == b"reset":
                changes.full, added, changes.removed = True, [], []
            elif op == b"add":
                added.append(key)
                every.append(key)
            else:
                changes.removed.append(key.decode())
        if added:
            blobs: dict[bytes, bytes | str | None]
            if len(vectors) == len(every):
                blobs = dict(zip(every, vectors, strict=True))
            else:
                blobs = dict(zip(added, await self._redis.hmget(vec, added), strict=True))
            changes.added = [unpack_vector(k.decode(), blob) for k in added if isinstance(blob := blobs[k], bytes)]
        return changes

    async def purge(self, *, tenant: str | None, route: str | None) -> int:
        return await self._run(self._write * 20, lambda: self._purge_all(tenant, route))

    async def _purge_all(self, tenant: str | None, route: str | None) -> int:
        sets = [self._index_key(k, n) for k, n in (("t", tenant), ("r", route)) if n is not None]
        if not sets:
            raise ValueError("purge needs a tenant or a route")
        members = [{_text(m) for m in await self._redis.smembers(s)} for s in sets]
        partitions = set.intersection(*members)
        removed = 0
        for partition in partitions:
            entry_prefix, vec, lru, log = self._keys(partition)
            removed += int(await self._purge(keys=[entry_prefix, vec, lru, log], args=[entry_prefix, _LOG_LEN]))
            for s in sets:
                await self._redis.srem(s, partition)
        return removed

    async def aclose(self) -> None:
        if self._owned:
            await self._redis.aclose()

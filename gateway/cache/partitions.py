"""The gateway's vector indexes, one per partition: loaded lazily, synced from the store's change log.

Every semantic lookup first applies the partition's new changes (one small round trip), so an
entry written by another replica is found on the next lookup. Concurrent lookups of a partition
share round trips: one that finds a sync begun after it arrived has completed need not make its own
(16 lookups at once cost two round trips, not sixteen in a row behind the partition's lock).
Loading a whole partition can take longer than a lookup's budget: it runs as a background task that
the lookup waits for only as long as its budget allows (meanwhile lookups in that partition are
semantic misses). Only the most recently used partitions stay in memory.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from gateway.cache.index import VectorIndex
from gateway.cache.store.base import CacheStore, Changes, Vector


class PartitionIndexes:
    def __init__(self, *, store: CacheStore, max_partitions: int) -> None:
        self._store = store
        self._max = max_partitions
        self._indexes: OrderedDict[str, VectorIndex] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._syncs: dict[str, tuple[int, int]] = {}
        """Partition -> (syncs begun, the number of the last one completed)."""
        self._loading: dict[str, asyncio.Task[VectorIndex]] = {}

    def __len__(self) -> int:
        return len(self._indexes)

    def nbytes(self) -> int:
        return sum(index.nbytes() for index in self._indexes.values())

    async def synced(self, partition: str, dimension: int, *, wait_s: float) -> VectorIndex | None:
        """The partition's index, up to date with the store; None while it is still loading.

        Raises `CacheUnavailable` when the store fails.
        """
        index = self._indexes.get(partition)
        if index is not None and index.dimension == dimension:
            lock = self._locks.setdefault(partition, asyncio.Lock())
            need = self._syncs.get(partition, (0, 0))[0] + 1  # a sync begun after this lookup arrived
            async with lock:
                begun, done = self._syncs.get(partition, (0, 0))
                if done >= need and self._indexes.get(partition) is index:
                    self._indexes.move_to_end(partition)
                    return index  # a sync that began after we arrived has applied the log
                self._syncs[partition] = (begun + 1, done)
                changes = await self._store.changes(partition, index.cursor)
                if not changes.reload:
                    self._apply(index, changes)
                    self._syncs[partition] = (self._syncs[partition][0], begun + 1)
                    self._indexes.move_to_end(partition)
                    return index
            self._indexes.pop(partition, None)  # its log was trimmed past us: load it again
        task = self._loading.get(partition)
        if task is None:
            task = asyncio.create_task(self._load(partition, dimension))
            self._loading[partition] = task
            task.add_done_callback(lambda done: self._loaded(partition, done))
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait_s)
        except TimeoutError:
            return None

    async def _load(self, partition: str, dimension: int) -> VectorIndex:
        changes = await self._store.changes(partition, None)
        index = await asyncio.to_thread(VectorIndex.build, dimension, changes.added)
        index.cursor = changes.cursor
        return index

    def _loaded(self, partition: str, task: asyncio.Task[VectorIndex]) -> None:
        self._loading.pop(partition, None)
        if task.cancelled() or task.exception() is not None:
            return  # the waiting lookup saw the error (or nobody waited: the next lookup retries)
        self._indexes[partition] = task.result()
        self._indexes.move_to_end(partition)
        while len(self._indexes) > self._max:
            old, _ = self._indexes.popitem(last=False)
            lock = self._locks.get(old)
            if lock is not None and not lock.locked():
                del self._locks[old]
                self._syncs.pop(old, None)

    def add_local(self, partition: str, key: str, query: str, vector: Vector) -> None:
        """Our own write, visible here at once (the log replays it harmlessly)."""
        index = self._indexes.get(partition)
        if index is not None:
            index.add(key, query, vector)

    def forget(self, partition: str, key: str) -> None:
        index = self._indexes.get(partition)
        if index is not None:
            index.remove(key)

    async def aclose(self) -> None:
        for task in list(self._loading.values()):
            task.cancel()
        await asyncio.gather(*self._loading.values(), return_exceptions=True)

    @staticmethod
    def _apply(index: VectorIndex, changes: Changes) -> None:
        if changes.full:
            index.clear()
        for key in changes.removed:
            index.remove(key)
        for item in changes.added:
            index.add(item.key, item.query, item.vector)
        index.cursor = changes.cursor

"""The gateway's vector indexes, one per partition: loaded lazily, synced from the store's change log.

Every semantic lookup first applies the partition's new changes (one small round trip), so an
entry written by another replica is found on the next lookup. Only the most recently used
partitions stay in memory.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from gateway.cache.index import Vector, VectorIndex
from gateway.cache.store.base import CacheStore, Changes


class PartitionIndexes:
    def __init__(self, *, store: CacheStore, max_partitions: int) -> None:
        self._store = store
        self._max = max_partitions
        self._indexes: OrderedDict[str, VectorIndex] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self._indexes)

    def nbytes(self) -> int:
        return sum(index.nbytes() for index in self._indexes.values())

    async def synced(self, partition: str, dimension: int) -> VectorIndex:
        """The partition's index, up to date with the store (raises `CacheUnavailable`)."""
        lock = self._locks.setdefault(partition, asyncio.Lock())
        async with lock:
            index = self._indexes.get(partition)
            if index is None or index.dimension != dimension:
                index = VectorIndex(dimension)
                changes = await self._store.changes(partition, None)
            else:
                changes = await self._store.changes(partition, index.cursor)
            self._apply(index, changes)
            self._remember(partition, index)
            return index

    def add_local(self, partition: str, key: str, query: str, vector: Vector) -> None:
        """Our own write, visible here at once (the log replays it harmlessly)."""
        index = self._indexes.get(partition)
        if index is not None:
            index.add(key, query, vector)

    def forget(self, partition: str, key: str) -> None:
        index = self._indexes.get(partition)
        if index is not None:
            index.remove(key)

    @staticmethod
    def _apply(index: VectorIndex, changes: Changes) -> None:
        if changes.full:
            index.clear()
        for key in changes.removed:
            index.remove(key)
        for item in changes.added:
            index.add(item.key, item.query, item.vector)
        index.cursor = changes.cursor

    def _remember(self, partition: str, index: VectorIndex) -> None:
        self._indexes[partition] = index
        self._indexes.move_to_end(partition)
        while len(self._indexes) > self._max:
            old, _ = self._indexes.popitem(last=False)
            lock = self._locks.get(old)
            if lock is not None and not lock.locked():
                del self._locks[old]

"""The in-process store: the embedded default when no Redis is configured. Same behaviour, one process."""

from __future__ import annotations

import bisect
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.cache.store.base import Changes, Entry, Indexed, Placement

_LOG_LEN = 1000


@dataclass(slots=True)
class _Partition:
    tenant: str
    route: str
    entries: OrderedDict[str, tuple[Entry, float]] = field(default_factory=OrderedDict)
    """key -> (entry, expiry), least recently used first."""
    expiries: deque[tuple[float, str]] = field(default_factory=deque)
    """(expiry, key) in write order, which is expiry order: one TTL per policy."""
    log: list[tuple[int, str, str]] = field(default_factory=list)
    """(sequence, op, key), trimmed to the last `_LOG_LEN`."""
    trimmed: int = 0
    """The highest sequence trimmed away: a reader behind it reloads the whole partition."""


class MemoryStore:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._partitions: dict[str, _Partition] = {}
        self._sequence = 0
        self._puts = 0

    def _log(self, part: _Partition, op: str, key: str) -> None:
        self._sequence += 1
        part.log.append((self._sequence, op, key))
        if len(part.log) > _LOG_LEN * 2:
            part.trimmed = part.log[-_LOG_LEN - 1][0]
            del part.log[:-_LOG_LEN]

    def _drop(self, part: _Partition, key: str) -> None:
        entry, _ = part.entries.pop(key)
        if entry.vector is not None:
            self._log(part, "del", key)

    async def get(self, partition: str, key: str) -> Entry | None:
        part = self._partitions.get(partition)
        found = part.entries.get(key) if part else None
        if part is None or found is None:
            return None
        if found[1] <= self._clock():
            self._drop(part, key)
            return None
        part.entries.move_to_end(key)
        return found[0]

    async def put(self, placement: Placement, entry: Entry) -> None:
        now = self._clock()
        part = self._partitions.setdefault(placement.partition, _Partition(placement.tenant, placement.route))
        part.entries[entry.key] = (entry, now + placement.ttl_s)
        part.entries.move_to_end(entry.key)
        part.expiries.append((now + placement.ttl_s, entry.key))
        if entry.vector is not None:
            self._log(part, "add", entry.key)
        self._expire(part, now)
        while len(part.entries) > placement.max_entries:
            self._drop(part, next(iter(part.entries)))
        self._puts += 1
        if self._puts % 1024 == 0:
            self._sweep(now)

    def _expire(self, part: _Partition, now: float) -> None:
        while part.expiries and part.expiries[0][0] <= now:
            expiry, key = part.expiries.popleft()
            found = part.entries.get(key)
            if found is not None and found[1] == expiry:
                self._drop(part, key)

    def _sweep(self, now: float) -> None:
        for name, part in list(self._partitions.items()):
            self._expire(part, now)
            if not part.entries:
                del self._partitions[name]

    async def changes(self, partition: str, cursor: str | None) -> Changes:
        part = self._partitions.get(partition)
        if part is None:
            return Changes(cursor=str(self._sequence), full=True)
        since = int(cursor) if cursor is not None else None
        if since is not None and part.trimmed > since:
            return Changes(cursor=str(since), full=False, reload=True)
        if since is not None:
            changes = Changes(cursor=str(max(since, part.log[-1][0] if part.log else since)), full=False)
            for _, op, key in part.log[bisect.bisect_right(part.log, since, key=lambda row: row[0]):]:
                found = part.entries.get(key)
                if op == "del" or found is None:
                    changes.removed.append(key)
                elif found[0].vector is not None and found[0].query is not None:
                    changes.added.append(Indexed(key, found[0].query, found[0].vector))
            return changes
        added = [Indexed(k, e.query, e.vector) for k, (e, _) in part.entries.items()
                 if e.vector is not None and e.query is not None]
        return Changes(cursor=str(part.log[-1][0] if part.log else self._sequence), full=True, added=added)

    async def purge(self, *, tenant: str | None, route: str | None) -> int:
        if tenant is None and route is None:
            raise ValueError("purge needs a tenant or a route")
        removed = 0
        for name, part in list(self._partitions.items()):
            if (tenant is None or part.tenant == tenant) and (route is None or part.route == route):
                removed += len(part.entries)
                del self._partitions[name]
        return removed

    async def aclose(self) -> None:
        self._partitions.clear()

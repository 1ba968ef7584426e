"""The in-process store: the embedded default when no Redis is configured. Same behaviour, one process."""

from __future__ import annotations

import time
from collections import OrderedDict
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
    log: list[tuple[int, str, str]] = field(default_factory=list)
    """(sequence, op, key), trimmed to the last `_LOG_LEN`."""
    trimmed: int = 0
    """The highest sequence trimmed away: a reader behind it reloads the whole partition."""


class MemoryStore:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._partitions: dict[str, _Partition] = {}
        self._sequence = 0

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
        if entry.vector is not None:
            self._log(part, "add", entry.key)
        for key in [k for k, (_, expiry) in part.entries.items() if expiry <= now]:
            self._drop(part, key)
        while len(part.entries) > placement.max_entries:
            self._drop(part, next(iter(part.entries)))
        if len(self._partitions) % 256 == 0:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        for name in [n for n, p in self._partitions.items() if all(e <= now for _, e in p.entries.values())]:
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
            for _, op, key in (row for row in part.log if row[0] > since):
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

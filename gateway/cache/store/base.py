"""The store interface. Redis is the source of truth; each gateway keeps vector indexes in sync from it.

A store keeps, per partition: entries (response, query text, creation time) with a TTL, a
least-recently-used order with a size cap, each entry's embedding, and a change log that lets a
gateway update its in-memory index instead of reloading it. Every failure of the backing service
is raised as `CacheUnavailable` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


class CacheUnavailable(Exception):
    """The store failed or ran out of its time budget; the caller bypasses the cache."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    response: dict[str, Any]
    created: float
    """Unix time the entry was stored."""
    query: str | None = None
    vector: Vector | None = None


@dataclass(frozen=True, slots=True)
class Indexed:
    key: str
    query: str
    vector: Vector


@dataclass(slots=True)
class Changes:
    cursor: str
    full: bool
    """True: `added` is the whole partition and replaces the index."""
    added: list[Indexed] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reload: bool = False
    """The log no longer reaches back to the cursor: call again with `cursor=None`."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an entry goes and the limits that apply."""

    partition: str
    tenant: str
    route: str
    ttl_s: int
    max_entries: int


class CacheStore(Protocol):
    async def get(self, partition: str, key: str) -> Entry | None:
        """The live entry, marked as recently used; None when absent or expired."""
        ...

    async def put(self, placement: Placement, entry: Entry) -> None:
        """Store an entry, trim the partition to its size cap and log the changes."""
        ...

    async def changes(self, partition: str, cursor: str | None) -> Changes:
        """Changes after `cursor`; with `cursor=None`, the whole partition (`full=True`)."""
        ...

    async def purge(self, *, tenant: str | None, route: str | None) -> int:
        """Delete every entry of the matching partitions; returns how many were deleted."""
        ...

    async def aclose(self) -> None: ...

"""Where contexts and outcome rows live: Redis when the policy names one (shared by every replica),
in-process otherwise. Redis errors become `LearningStoreError` here, at this one boundary.

    contexts   {prefix}:ctx:{tenant}:{request id}   SET ... EX context_ttl_s
    feedback   {prefix}:fb:{tenant}:{request id}    SET NX EX: the first feedback wins (idempotent)
    rows       {prefix}:rows:{alias}                a stream, trimmed to about max_rows
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gateway.learning.rows import OutcomeRow, RequestContext
from gateway.redisconn import RedisUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis


class LearningStoreError(Exception):
    """The store failed (Redis down or slow)."""


@dataclass(frozen=True, slots=True)
class RowBatch:
    rows: list[OutcomeRow]
    cursor: str | None


class LearningStore(Protocol):
    async def put_context(self, request_id: str, context: RequestContext, ttl_s: int) -> None: ...

    async def get_context(self, tenant: str, request_id: str) -> RequestContext | None: ...

    async def claim_feedback(self, tenant: str, request_id: str, ttl_s: int) -> bool:
        """True the first time for this request; False afterwards."""
        ...

    async def append(self, row: OutcomeRow) -> None: ...

    async def rows_since(self, alias: str, cursor: str | None, limit: int) -> RowBatch:
        """Rows appended after `cursor` (None: from the oldest kept), in order."""
        ...


class MemoryStore:
    """One process only: contexts in a bounded dict with expiry, rows in a bounded deque per alias."""

    def __init__(self, *, max_rows: int, max_contexts: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._contexts: OrderedDict[tuple[str, str], tuple[float, RequestContext]] = OrderedDict()
        self._claimed: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._rows: dict[str, deque[tuple[int, OutcomeRow]]] = {}
        self._seq = 0
        self._max_rows = max_rows
        self._max_contexts = max_contexts
        self._clock = clock

    async def put_context(self, request_id: str, context: RequestContext, ttl_s: int) -> None:
        key = (context.tenant, request_id)
        self._contexts[key] = (self._clock() + ttl_s, context)
        self._contexts.move_to_end(key)
        while len(self._contexts) > self._max_contexts:
            self._contexts.popitem(last=False)

    async def get_context(self, tenant: str, request_id: str) -> RequestContext | None:
        entry = self._contexts.get((tenant, request_id))
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    async def claim_feedback(self, tenant: str, request_id: str, ttl_s: int) -> bool:
        key = (tenant, request_id)
        expires = self._claimed.get(key)
        if expires is not None and expires >= self._clock():
            return False
        self._claimed[key] = self._clock() + ttl_s
        while len(self._claimed) > self._max_contexts:
            self._claimed.popitem(last=False)
        return True

    async def append(self, row: OutcomeRow) -> None:
        self._seq += 1
        self._rows.setdefault(row.alias, deque(maxlen=self._max_rows)).append((self._seq, row))

    async def rows_since(self, alias: str, cursor: str | None, limit: int) -> RowBatch:
        after = int(cursor) if cursor else 0
        rows = [(seq, row) for seq, row in self._rows.get(alias, ()) if seq > after][:limit]
        return RowBatch([row for _, row in rows], str(rows[-1][0]) if rows else cursor)


class RedisStore:
    def __init__(self, *, client: Redis, prefix: str, max_rows: int) -> None:
        self._redis = client
        self._prefix = prefix
        self._max_rows = max_rows

    def _ctx(self, tenant: str, request_id: str) -> str:
        return f"{self._prefix}:ctx:{tenant}:{request_id}"

    def rows_key(self, alias: str) -> str:
        return f"{self._prefix}:rows:{alias}"

    async def put_context(self, request_id: str, context: RequestContext, ttl_s: int) -> None:
        try:
            await self._redis.set(self._ctx(context.tenant, request_id), context.dumps(), ex=ttl_s)
        except RedisUnavailable as exc:
            raise LearningStoreError(str(exc)) from exc

    async def get_context(self, tenant: str, request_id: str) -> RequestContext | None:
        try:
            data = await self._redis.get(self._ctx(tenant, request_id))
        except RedisUnavailable as exc:
            raise LearningStoreError(str(exc)) from exc
        return None if data is None else RequestContext.loads(data)

    async def claim_feedback(self, tenant: str, request_id: str, ttl_s: int) -> bool:
        try:
            return bool(await self._redis.set(f"{self._prefix}:fb:{tenant}:{request_id}", b"1", nx=True, ex=ttl_s))
        except RedisUnavailable as exc:
            raise LearningStoreError(str(exc)) from exc

    async def append(self, row: OutcomeRow) -> None:
        try:
            await self._redis.xadd(self.rows_key(row.alias), {"r": row.dumps()}, maxlen=self._max_rows,
                                   approximate=True)
        except RedisUnavailable as exc:
            raise LearningStoreError(str(exc)) from exc

    async def rows_since(self, alias: str, cursor: str | None, limit: int) -> RowBatch:
        try:
            entries = await self._redis.xrange(self.rows_key(alias), min=f"({cursor}" if cursor else "-",
                                               count=limit)
        except RedisUnavailable as exc:
            raise LearningStoreError(str(exc)) from exc
        entries = entries or []
        rows = [OutcomeRow.loads(fields[b"r"]) for _, fields in entries if fields]
        last = entries[-1][0] if entries else None
        return RowBatch(rows, last.decode() if isinstance(last, bytes) else (last or cursor))

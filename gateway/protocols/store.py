"""Stored responses for `previous_response_id`: the conversation so far, per tenant, for a while.

In Redis when the policy configures it (shared by every replica), else in this process. A key holds
the tenant, so another tenant's id is simply not found (404).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from router.errors import StoreUnavailable

Conversation = list[dict[str, Any]]


class ResponseStore(Protocol):
    async def get(self, tenant: str, response_id: str) -> Conversation | None: ...

    async def put(self, tenant: str, response_id: str, messages: Conversation) -> None: ...


class MemoryResponseStore:
    """Per process, least recently stored dropped past `max_entries`."""

    def __init__(self, *, ttl_s: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._items: OrderedDict[tuple[str, str], tuple[float, Conversation]] = OrderedDict()

    async def get(self, tenant: str, response_id: str) -> Conversation | None:
        entry = self._items.get((tenant, response_id))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    async def put(self, tenant: str, response_id: str, messages: Conversation) -> None:
        self._items[(tenant, response_id)] = (time.monotonic() + self._ttl, messages)
        while len(self._items) > self._max:
            self._items.popitem(last=False)


class RedisResponseStore:
    def __init__(self, *, redis: Redis, ttl_s: float, prefix: str) -> None:
        self._redis = redis
        self._ttl = max(1, int(ttl_s))
        self._prefix = prefix

    def _key(self, tenant: str, response_id: str) -> str:
        return f"{self._prefix}{tenant}:{response_id}"

    async def get(self, tenant: str, response_id: str) -> Conversation | None:
        try:
            raw = await self._redis.get(self._key(tenant, response_id))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable("the response store (Redis) is unreachable") from exc
        if raw is None:
            return None
        messages: Conversation = orjson.loads(raw)
        return messages

    async def put(self, tenant: str, response_id: str, messages: Conversation) -> None:
        try:
            await self._redis.set(self._key(tenant, response_id), orjson.dumps(messages), ex=self._ttl)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable("the response store (Redis) is unreachable") from exc


def build_store(redis: Redis | None, *, ttl_s: float, prefix: str) -> ResponseStore:
    """In Redis (keys `<prefix>:responses:<tenant>:<id>`) when there is one, else in the process."""
    if redis is None:
        return MemoryResponseStore(ttl_s=ttl_s)
    return RedisResponseStore(redis=redis, ttl_s=ttl_s, prefix=f"{prefix}:responses:")

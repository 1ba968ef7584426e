"""The in-process response store: per tenant, for its TTL, bounded."""

from __future__ import annotations

import asyncio

from gateway.protocols.store import MemoryResponseStore

TURN = [{"role": "user", "content": "hi"}]


async def test_stored_per_tenant_until_the_ttl() -> None:
    store = MemoryResponseStore(ttl_s=0.2)
    await store.put("acme", "resp_1", TURN)
    assert await store.get("acme", "resp_1") == TURN
    assert await store.get("beta", "resp_1") is None
    await asyncio.sleep(0.3)
    assert await store.get("acme", "resp_1") is None


async def test_the_oldest_goes_past_the_bound() -> None:
    store = MemoryResponseStore(ttl_s=60, max_entries=2)
    for i in range(3):
        await store.put("acme", f"resp_{i}", TURN)
    assert await store.get("acme", "resp_0") is None
    assert await store.get("acme", "resp_2") == TURN

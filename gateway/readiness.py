"""What `/readyz` checks: the policy is loaded, a chat upstream is configured, and Redis (when the
policy names one) answers a PING."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from gateway.runtime import Runtime


def readiness_checks(runtime: Runtime) -> dict[str, dict[str, Any]]:
    chat = [m for m in runtime.registry.available_ids() if runtime.specs[m].capabilities.chat]
    return {"policy": {"ok": True, "version": runtime.version},
            "upstreams": {"ok": bool(chat), "available": len(chat)}}


async def redis_check(redis: Redis) -> dict[str, Any]:
    """Redis answers a PING within a second (down, unreachable or a wrong password: not ready)."""
    try:
        async with asyncio.timeout(1.0):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}

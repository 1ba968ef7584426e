"""What `/readyz` checks: the policy is loaded, a chat upstream is configured, and Redis (when the
policy names one) answers a PING."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from gateway.redisconn import RedisUnavailable

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
    except TimeoutError:
        return {"ok": False, "error": "TimeoutError"}
    except RedisUnavailable as exc:  # the Redis layer's one error type
        cause = exc.__cause__
        return {"ok": False, "error": type(cause).__name__ if cause is not None else type(exc).__name__}
    return {"ok": True}

"""The response cache: exact and semantic, tenant-partitioned, in Redis or in-process.

The request path calls:

    cache = await build_cache(policy.cache, redis=client)          # once, at startup (or redis_url=)
    lookup = await cache.lookup(CacheRequest(tenant, route, body, parse_cache_control(header)))
    if lookup.hit: serve lookup.response (or `replay_sse(lookup.response, include_usage=...)`)
    else:
        async with cache.single_flight(lookup) as flight:
            if flight.hit: serve flight.response
            else: call the upstream; await cache.store(lookup, response_body)
    response header `x-turnout-cache: lookup.header()`
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from gateway.cache.config import CachePolicy, SemanticPolicy, SemanticRoute
from gateway.cache.directives import CacheDirectives, parse_cache_control

if TYPE_CHECKING:
    from gateway.cache.build import build_cache
    from gateway.cache.cache import ResponseCache
    from gateway.cache.keys import CacheRequest
    from gateway.cache.result import CacheLookup, CacheStatus
    from gateway.cache.sse import replay_sse
    from gateway.cache.stats import CacheStats

# Imported on first use, so that loading the policy (which imports `CachePolicy`) stays free of numpy.
_LAZY = {"build_cache": "build", "ResponseCache": "cache", "CacheRequest": "keys", "CacheLookup": "result",
         "CacheStatus": "result", "replay_sse": "sse", "CacheStats": "stats"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"gateway.cache.{module}"), name)


__all__ = [
    "CacheDirectives",
    "CacheLookup",
    "CachePolicy",
    "CacheRequest",
    "CacheStats",
    "CacheStatus",
    "ResponseCache",
    "SemanticPolicy",
    "SemanticRoute",
    "build_cache",
    "parse_cache_control",
    "replay_sse",
]

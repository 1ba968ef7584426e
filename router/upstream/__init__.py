"""Upstream adapters: how a request reaches a model. One interface, implementations in a dict.

`build_upstream()` is the gateway's upstream; adapters themselves (and litellm, aiohttp) are imported
only when built, never by importing this package.
"""

from router.upstream.base import Chunk, Closeable, Upstream, UpstreamRequest, UpstreamResponse
from router.upstream.routing import ADAPTERS, LazyUpstream, RoutingUpstream, adapter_for, build_upstream

__all__ = ["ADAPTERS", "Chunk", "Closeable", "LazyUpstream", "RoutingUpstream", "Upstream", "UpstreamRequest",
           "UpstreamResponse", "adapter_for", "build_upstream"]

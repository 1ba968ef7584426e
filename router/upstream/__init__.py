"""Upstream adapters: how a request reaches a model. One interface, implementations in a dict.

`build_upstream()` is the gateway's upstream; adapters themselves (and litellm, aiohttp) are imported
only when built, never by importing this package.
"""

from router.upstream.base import Chunk, Closeable, TokenCounter, Upstream, UpstreamRequest, UpstreamResponse
from router.upstream.routing import ADAPTERS, LazyUpstream, RoutingUpstream, adapter_for, build_upstream
from router.upstream.tokens import build_token_counter, estimate_tokens

__all__ = ["ADAPTERS", "Chunk", "Closeable", "LazyUpstream", "RoutingUpstream", "TokenCounter", "Upstream",
           "UpstreamRequest", "UpstreamResponse", "adapter_for", "build_token_counter", "build_upstream",
           "estimate_tokens"]

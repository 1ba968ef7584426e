"""Upstream adapters: how a request reaches a model. One interface, implementations in a dict."""

from router.upstream.base import Chunk, Upstream, UpstreamRequest, UpstreamResponse

__all__ = ["Chunk", "Upstream", "UpstreamRequest", "UpstreamResponse"]

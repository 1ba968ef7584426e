"""An embedding model from the registry, called through our upstream interface (litellm behind it)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.cache.embedding.base import Matrix, normalised
from registry import ModelSpec
from router.upstream.base import Upstream, UpstreamRequest


class UpstreamEmbedder:
    def __init__(self, *, upstream: Upstream, spec: ModelSpec, timeout_s: float = 2.0) -> None:
        self._upstream = upstream
        self._spec = spec
        self._timeout = timeout_s

    async def embed(self, texts: Sequence[str]) -> Matrix:
        request = UpstreamRequest(spec=self._spec, body={"model": self._spec.id, "input": list(texts)},
                                  kind="embeddings", timeout=self._timeout)
        response = await self._upstream.send(request)
        data = (response.body or {}).get("data")
        if not isinstance(data, list) or len(data) != len(texts):
            raise ValueError(f"{self._spec.id}: expected {len(texts)} embeddings in the response")
        ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
        return normalised([item["embedding"] for item in ordered])

"""The embedder interface and the normalisation every implementation shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
EmbedFn = Callable[[Sequence[str]], Awaitable[Sequence[Sequence[float]]]]
"""Any async function from texts to vectors (for example litellm `aembedding` behind an upstream)."""


class Embedder(Protocol):
    async def embed(self, texts: Sequence[str]) -> Matrix:
        """One L2-normalised float32 row per text."""
        ...


def normalised(rows: Sequence[Sequence[float]] | Matrix) -> Matrix:
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected one vector per text, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)  # type: ignore[no-any-return]


class FunctionEmbedder:
    """Wraps an async `embed(texts) -> vectors` function, e.g. a registry model called through litellm."""

    def __init__(self, embed: EmbedFn) -> None:
        self._embed = embed

    async def embed(self, texts: Sequence[str]) -> Matrix:
        rows = await self._embed(list(texts))
        if len(rows) != len(texts):
            raise ValueError(f"embedder returned {len(rows)} vectors for {len(texts)} texts")
        return normalised(rows)

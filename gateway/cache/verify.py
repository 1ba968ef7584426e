"""The second stage of a semantic lookup: the full encoder confirms what the static embedding proposed.

The request embedding (a static token table) is cheap enough for every request but blunt: it scores
paraphrases and near misses alike. Candidates it puts above `candidate_threshold` are re-scored
here with all-MiniLM-L6-v2 against the final `threshold`, in one batch. A miss with no candidate
never runs the encoder; stored queries' vectors are kept in a small LRU, so a popular entry is
encoded once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from gateway.cache.embedding.base import Embedder, Matrix
from gateway.cache.remember import Remembered


class Verifier(Protocol):
    async def similarities(self, query: str, candidates: Sequence[str]) -> list[float]:
        """Cosine similarity of `query` to each candidate text, by the verifying encoder."""
        ...


class EncoderVerifier:
    def __init__(self, embedder: Embedder, *, remember: int = 4096) -> None:
        self._embedder = embedder
        self._known: Remembered[Matrix] = Remembered(remember)

    async def similarities(self, query: str, candidates: Sequence[str]) -> list[float]:
        unique = list(dict.fromkeys([query, *candidates]))
        found = {text: row for text in unique if (row := self._known.get(text)) is not None}
        missing = [text for text in unique if text not in found]
        if missing:
            for text, row in zip(missing, await self._embedder.embed(missing), strict=True):
                found[text] = row
                self._known.put(text, row)
        first = found[query]
        return [float(np.dot(first, found[text])) for text in candidates]

    async def aclose(self) -> None:
        closer = getattr(self._embedder, "aclose", None)
        if closer is not None:
            await closer()


def _minilm(weights: Path | None) -> Verifier:
    from embedding.minilm import MiniLM
    from gateway.cache.embedding.batching import BatchingEmbedder

    return EncoderVerifier(BatchingEmbedder(MiniLM.load(weights).encode))


VERIFIERS: dict[str, Callable[[Path | None], Verifier]] = {"minilm": _minilm}

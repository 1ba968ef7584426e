"""The request embedding every routed request gets: a static token table distilled from MiniLM.

A text's vector is the sum of its tokens' rows (already weighted at build time), L2-normalised:
no network, no attention, tens of microseconds for a prompt. It is a model2vec-style distillation
(every vocabulary id run through all-MiniLM-L6-v2 alone, reduced with PCA, weighted by token rarity),
so it keeps much of MiniLM's topic geometry at a thousandth of its cost; fine distinctions
(paraphrase vs near miss) are left to the full encoder, which only verifies cache candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from embedding.words import WordIds

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Matrix = npt.NDArray[np.float32]
Vector = npt.NDArray[np.float32]

_HEAD_CHARS = 3072
_TAIL_CHARS = 1024


def clip(text: str) -> str:
    """The part of a long text that is embedded: its start and its end (what is asked often comes last)."""
    if len(text) <= _HEAD_CHARS + _TAIL_CHARS:
        return text
    return text[:_HEAD_CHARS] + "\n" + text[-_TAIL_CHARS:]


class StaticEmbedder:
    """`embed(text)` -> one L2-normalised float32 row; `encode(texts)` -> one row per text."""

    def __init__(self, *, table: Matrix, tokenizer: Tokenizer, meta: dict[str, Any] | None = None) -> None:
        self._table = table
        self._tokenizer = tokenizer
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.dimension = int(table.shape[1])
        self.meta = meta or {}
        self._words = WordIds(tokenizer)

    @classmethod
    def load(cls, directory: Path | None = None) -> StaticEmbedder:
        """The committed table (raises `EmbeddingUnavailable` naming the fix when it is missing)."""
        from embedding.artifacts import HERE, load_static_table, load_tokenizer

        table, meta = load_static_table(directory or HERE)
        return cls(table=table, tokenizer=load_tokenizer(directory or HERE), meta=meta)

    def _pool(self, ids: Sequence[int]) -> Vector:
        if not ids:
            return np.zeros(self.dimension, dtype=np.float32)
        row = np.add.reduce(self._table[ids], axis=0)  # what `.sum(axis=0)` runs, without its Python wrapper
        norm = float(np.sqrt(row @ row))
        return (row / norm if norm > 0 else row).astype(np.float32, copy=False)  # type: ignore[no-any-return]

    def embed(self, text: str) -> Vector:
        return self._pool(self._words.ids(clip(text)))

    def encode(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._pool(self._words.ids(clip(t))) for t in texts])

"""A partition's nearest-neighbour index: a numpy matrix of normalised embeddings, one row per entry.

Rows are keyed by the entry's exact key, so applying the same change twice is harmless; the owner
keeps it in sync from the store's change log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateway.cache.store.base import Indexed, Vector


@dataclass(frozen=True, slots=True)
class Candidate:
    key: str
    query: str
    similarity: float


class VectorIndex:
    def __init__(self, dimension: int, *, capacity: int = 16) -> None:
        self.dimension = dimension
        self._matrix = np.zeros((capacity, dimension), dtype=np.float32)
        self._keys: list[str | None] = []
        self._queries: list[str] = []
        self._rows: dict[str, int] = {}
        self._free: list[int] = []
        self.cursor = "0"
        """The last change-log id applied."""

    @classmethod
    def build(cls, dimension: int, items: Sequence[Indexed]) -> VectorIndex:
        """An index holding `items`, built in bulk (fit for a thread: it touches nothing shared)."""
        items = [i for i in items if i.vector.shape == (dimension,)]
        index = cls(dimension, capacity=max(16, len(items) + len(items) // 4))
        if items:
            index._matrix[:len(items)] = np.stack([i.vector for i in items])
        index._keys = [i.key for i in items]
        index._queries = [i.query for i in items]
        index._rows = {i.key: row for row, i in enumerate(items)}
        return index

    def __len__(self) -> int:
        return len(self._rows)

    def nbytes(self) -> int:
        return int(self._matrix.nbytes)

    def add(self, key: str, query: str, vector: Vector) -> None:
        if vector.shape != (self.dimension,):
            return  # written by another embedder: not comparable
        row = self._rows.get(key)
        if row is None:
            row = self._free.pop() if self._free else self._append()
            self._rows[key] = row
        self._matrix[row] = vector
        self._keys[row] = key
        self._queries[row] = query

    def _append(self) -> int:
        row = len(self._keys)
        if row == self._matrix.shape[0]:
            grown = np.zeros((row * 2, self.dimension), dtype=np.float32)
            grown[:row] = self._matrix
            self._matrix = grown
        self._keys.append(None)
        self._queries.append("")
        return row

    def remove(self, key: str) -> None:
        row = self._rows.pop(key, None)
        if row is not None:
            self._matrix[row] = 0.0  # a zero row scores 0 and never passes a threshold
            self._keys[row] = None
            self._queries[row] = ""
            self._free.append(row)

    def clear(self) -> None:
        for key in list(self._rows):
            self.remove(key)

    def search(self, vector: Vector, threshold: float, limit: int = 5) -> list[Candidate]:
        """Entries at or above `threshold`, most similar first."""
        return self.confirm(self.rows_above(vector, threshold, limit), vector, threshold)

    def rows_above(self, vector: Vector, threshold: float, limit: int = 5) -> list[int]:
        """The scan, safe to run in a thread: rows may change meanwhile, so `confirm` them afterwards."""
        matrix, used = self._matrix, len(self._keys)
        if not self._rows or vector.shape != (self.dimension,):
            return []
        scores = matrix[:used] @ vector
        above = np.flatnonzero(scores >= threshold)
        if above.size > limit:
            above = above[np.argpartition(scores[above], -limit)[-limit:]]
        return [int(row) for row in above]

    def confirm(self, rows: list[int], vector: Vector, threshold: float) -> list[Candidate]:
        """Candidates for `rows`, rescored against their current contents."""
        out = []
        for row in rows:
            key = self._keys[row] if row < len(self._keys) else None
            score = float(self._matrix[row] @ vector) if key is not None else -1.0
            if key is not None and score >= threshold:
                out.append(Candidate(key, self._queries[row], score))
        return sorted(out, key=lambda c: -c.similarity)

"""The outcome rows of one alias in memory, and the learned score of a prompt from them.

    votes    the `neighbours` most similar labelled rows with similarity >= min_similarity, each
             weighing w = exp(sharpness * (similarity - 1)); vote = their weighted mean label
    head     the alias's head (gateway/learning/head.py), refitted on its rows after a sync once it
             has MIN_FIT_ROWS: by default the cold-start score, and the vote only when leave-one-out
             error on the alias's own rows says the vote predicts better than the cold start alone
    score    a stacked head's output (the vote already weighed by the fit); else
             (prior_weight * prior + sum(w * label)) / (prior_weight + sum(w)) with prior the head's
             score (the cold start before the first fit)

A lookup is one matrix-vector product over at most `max_rows` rows (measured with one BLAS thread on
the busy 2-core box: 0.09 ms at 1,000 rows of 256 dimensions, 0.35 ms at 5,000, 1.2 ms at 20,000);
rows live in a ring, so memory is bounded and the oldest row goes first. A refit computes each of at
most `FIT_ROWS` newest rows' vote from the other rows (chunks of 512 against all rows) and fits the
head on them: bounded whatever `max_rows` is (see `refit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway.learning.head import CrossValidated, Head, HeadFit, Rows
from gateway.learning.rows import OutcomeRow

FIT_ROWS = 2000
_CHUNK = 512


@dataclass(frozen=True, slots=True)
class Blend:
    score: float
    prior: float
    """The cold-start score as the classifier gave it."""
    evidence: float
    """Sum of the voting rows' weights (0: the cold-start score stands)."""
    votes: int
    nearest: float | None
    """Similarity of the nearest labelled row, if any."""

    def to_dict(self) -> dict[str, float | int | None]:
        return {"score": round(self.score, 4), "prior": round(self.prior, 4), "evidence": round(self.evidence, 3),
                "votes": self.votes, "nearest_similarity": None if self.nearest is None else round(self.nearest, 4)}


@dataclass(frozen=True, slots=True)
class BlendParams:
    neighbours: int = 16
    min_similarity: float = 0.3
    prior_weight: float = 4.0
    sharpness: float = 0.0


class OutcomeIndex:
    def __init__(self, *, max_rows: int, head: HeadFit | None = None) -> None:
        self._max = max_rows
        self._fit: HeadFit = head or CrossValidated()
        self._vectors: np.ndarray | None = None
        self._labels = np.zeros(max_rows, dtype=np.float32)
        self._priors = np.zeros(max_rows, dtype=np.float64)
        self._log_chars = np.zeros(max_rows, dtype=np.float64)
        self.head: Head | None = None
        self.fitted_rows = 0
        """Rows the head was last fitted on (0: not fitted, the cold start and the vote blend)."""
        self._base = 0.5
        self._size = 0
        self._next = 0
        self.added = 0

    def __len__(self) -> int:
        return self._size

    def add(self, row: OutcomeRow) -> bool:
        """Keep a labelled row (a row without a label, or of another dimension, is skipped)."""
        label = row.label
        if label is None:
            return False
        vector = np.asarray(row.vector, dtype=np.float32)
        if self._vectors is None or self._vectors.shape[1] != vector.shape[0]:
            self._vectors = np.zeros((self._max, vector.shape[0]), dtype=np.float32)
            self._size = self._next = 0
        norm = float(np.linalg.norm(vector))
        self._vectors[self._next] = vector / norm if norm > 0 else vector
        self._labels[self._next] = label
        self._priors[self._next] = row.prior
        self._log_chars[self._next] = np.log1p(row.prompt_chars)
        self._next = (self._next + 1) % self._max
        self._size = min(self._size + 1, self._max)
        self.added += 1
        return True

    def refit(self, params: BlendParams) -> None:
        """Refit the head on the newest `FIT_ROWS` rows (after a sync, in a thread: reads the rows, then
        swaps the head in one assignment)."""
        n, vectors = self._size, self._vectors
        if n == 0 or vectors is None:
            self.head, self.fitted_rows = None, 0
            return
        labels = self._labels[:n].astype(np.float64)
        newest = (self._next - 1 - np.arange(min(n, FIT_ROWS))) % self._max if n == self._max else \
            np.arange(max(0, n - FIT_ROWS), n)
        votes = np.empty(newest.size)
        base = float(labels.mean())
        for start in range(0, newest.size, _CHUNK):
            part = newest[start:start + _CHUNK]
            sims = vectors[part] @ vectors[:n].T
            sims[np.arange(part.size), part] = -np.inf  # a row does not vote for itself
            votes[start:start + _CHUNK] = [self._vote(row, labels, params, base)[0] for row in sims]
        head = self._fit.fit(Rows(self._priors[newest], self._log_chars[newest], votes, vectors[newest],
                                  labels[newest]))
        self._base, self.head, self.fitted_rows = base, head, (newest.size if head is not None else 0)

    def _vote(self, sims: np.ndarray, labels: np.ndarray, params: BlendParams,
              base: float) -> tuple[float, float, np.ndarray]:
        """(vote, evidence, voters) of one prompt's similarities to the rows."""
        k = min(params.neighbours, sims.size)
        top = np.argpartition(-sims, k - 1)[:k] if k < sims.size else np.arange(sims.size)
        top = top[sims[top] >= params.min_similarity]
        if top.size == 0:
            return base, 0.0, top
        weights = np.exp(params.sharpness * (sims[top] - 1.0))
        evidence = float(weights.sum())
        return float(weights @ labels[top]) / evidence, evidence, top

    def prior_of(self, cold: float, prompt_chars: int, vector: np.ndarray | None = None,
                 vote: float | None = None) -> float:
        """The head's score of a prompt (the cold start before the first fit)."""
        head = self.head
        if head is None:
            return cold
        v = np.zeros(0, np.float32) if vector is None else np.asarray(vector, dtype=np.float32)
        return head.score(cold, float(np.log1p(prompt_chars)), self._base if vote is None else vote, v)

    def blend(self, vector: np.ndarray, cold: float, params: BlendParams, prompt_chars: int = 0) -> Blend:
        if self._vectors is None or self._size == 0 or self._vectors.shape[1] != vector.shape[0]:
            return Blend(cold, cold, 0.0, 0, None)
        v = np.asarray(vector, dtype=np.float32)
        sims = self._vectors[: self._size] @ v
        labels = self._labels[: self._size]
        vote, evidence, top = self._vote(sims, labels, params, self._base)
        prior = self.prior_of(cold, prompt_chars, v, vote)
        nearest = float(sims.max())
        head = self.head
        if head is not None and head.stacked:
            return Blend(prior, cold, evidence, int(top.size), nearest)
        score = (params.prior_weight * prior + vote * evidence) / (params.prior_weight + evidence)
        return Blend(score, cold, evidence, int(top.size), nearest)

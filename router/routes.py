"""Semantic route matching: pure functions over vectors, built once per policy load.

    scores      = softmax(W @ v + b)          one row per route of the alias, plus one for `none`
    prior       = earlier user turn's scores  (multi-turn: what the conversation was about)
    mixed       = (1 - PRIOR_WEIGHT) * scores + PRIOR_WEIGHT * prior
    route       = argmax over routes, taken when its score reaches the route's threshold; a follow-up
                  that matches no route on its own ("and in French?") stays on the earlier turn's route

The head (W, b) is trained at load (`router.route_index`) on each route's description, its examples
and the built-in library route it extends; the `none` row on the library routes no route claims,
so a request about something else falls back to the alias's tiers. A request costs one product
of a (routes + 1) x d matrix with its vector: a few microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

DEFAULT_THRESHOLD = 0.3
PRIOR_WEIGHT = 0.3
"""Share of the earlier user turn's route scores in a follow-up's: a short follow-up ("now in French")
stays on the conversation's route; a clear change of subject still wins."""
NONE = "none"


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: str | None
    """The matched route, or None: the alias's own tiers serve the request."""
    best: str
    """The best-scoring route, matched or not (`none` when no route came first)."""
    score: float
    """The best route's score (0-1): the head's probability, prior included."""
    similarity: float
    """Cosine between the request and the best route's centroid (for people: how close it is)."""

    def to_dict(self) -> dict[str, object]:
        return {"route": self.route, "best": self.best, "score": round(self.score, 4),
                "similarity": round(self.similarity, 4)}


@dataclass(frozen=True, slots=True)
class RouteIndex:
    """One alias's routes as matrices. `names[i]` scores row `i`; the last row is `none`."""

    names: tuple[str, ...]
    weights: Matrix
    bias: Vector
    thresholds: Vector
    centroids: Matrix
    examples: tuple[tuple[str, ...], ...]
    """Each route's training texts (its own first), for `nearest`."""
    example_vectors: tuple[Matrix, ...]

    def scores(self, vector: Vector) -> Vector:
        logits = self.weights @ vector + self.bias
        logits = np.exp(logits - logits.max())
        return logits / logits.sum()  # type: ignore[no-any-return]

    def match(self, vector: Vector, prior: Vector | None = None) -> RouteMatch:
        """The route for a request vector; `prior` is an earlier user turn's vector, if any."""
        probs = self.scores(vector)
        earlier = self.scores(prior) if prior is not None else None
        if earlier is not None:
            probs = (1.0 - PRIOR_WEIGHT) * probs + PRIOR_WEIGHT * earlier
        found = self._pick(probs, vector)
        if found.route is None and earlier is not None:
            before = self._pick(earlier, vector)
            if before.route is not None:
                return before
        return found

    def _pick(self, probs: Vector, vector: Vector) -> RouteMatch:
        best = int(probs.argmax())
        score = float(probs[best])
        if best == len(self.names) - 1:
            return RouteMatch(None, NONE, score, 0.0)
        similarity = float(self.centroids[best] @ vector)
        name = self.names[best]
        return RouteMatch(name if score >= self.thresholds[best] else None, name, score, similarity)

    def nearest(self, vector: Vector, route: str, n: int = 3) -> list[tuple[str, float]]:
        """The route's `n` training texts closest to `vector`, with their cosine (for `--explain`)."""
        i = self.names.index(route)
        sims = self.example_vectors[i] @ vector
        order = np.argsort(-sims)[:n]
        return [(self.examples[i][j], float(sims[j])) for j in order]

"""What a lookup returns to the request path, and what `store` needs back from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway.cache.embedding.base import Matrix
from gateway.cache.keys import CacheKeys, CacheRequest

CacheStatus = Literal["hit-exact", "hit-semantic", "miss", "bypass"]


@dataclass(frozen=True, slots=True)
class CacheLookup:
    status: CacheStatus
    request: CacheRequest
    response: dict[str, Any] | None = None
    """The cached OpenAI response body on a hit."""
    similarity: float | None = None
    """Cosine similarity on a semantic hit (1.0 on an exact hit)."""
    age_s: float | None = None
    reason: str | None = None
    """Why a bypass or a skipped semantic lookup happened (`no-cache`, `store-error`, `guard:numbers`...)."""
    keys: CacheKeys | None = None
    vector: Matrix | None = None
    """The query's embedding, reused by `store` (and free for the classifier to use)."""
    searched_semantic: bool = False
    """The semantic layer was searched (metrics: a miss there vs. an exact-only miss)."""
    mark: int = 0
    """The single-flight mark taken when the lookup began (see `SingleFlight.ended_since`)."""

    @property
    def hit(self) -> bool:
        return self.status in ("hit-exact", "hit-semantic")

    def header(self) -> str:
        """Value for the `x-turnout-cache` response header."""
        if self.status == "hit-semantic" and self.similarity is not None:
            return f"hit-semantic; similarity={self.similarity:.4f}"
        return self.status

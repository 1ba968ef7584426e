"""Counters the metrics layer reads (`ResponseCache.stats`); plain ints, only ever incremented."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class CacheStats:
    lookups: int = 0
    hits_exact: int = 0
    hits_semantic: int = 0
    misses: int = 0
    bypasses: int = 0
    guard_rejections: int = 0
    """Semantic candidates above the threshold that the guard turned down."""
    verifications: int = 0
    """Lookups whose candidates went to the verifying encoder (MiniLM)."""
    verifier_rejections: int = 0
    """Candidates of the request embedding that the verifier put below the threshold."""
    stores: int = 0
    store_skips: int = 0
    """Answers not stored: not a complete success, `no-store`, or n > 1."""
    store_errors: int = 0
    backend_errors: int = 0
    """Store failures (connection refused, protocol errors): the request went on without the cache."""
    backend_timeouts: int = 0
    """Store calls over their time budget."""
    embed_errors: int = 0
    """Embedder failures or calls over `semantic.embed_timeout_ms`: semantic lookup skipped."""
    single_flight_shared: int = 0
    """Requests answered by an identical request's in-flight upstream call."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

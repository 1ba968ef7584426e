"""The `cache:` section of the policy file. Unknown keys are rejected; every field has a safe default.

Semantic caching is off unless a route opts in (`semantic.routes`). A request may ask for a
stricter or looser threshold, but never below the operator's `semantic.min_threshold`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SemanticRoute(_Frozen):
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Cosine similarity needed for a hit; default: semantic.threshold.")


class SemanticPolicy(_Frozen):
    routes: dict[str, SemanticRoute] = Field(
        default_factory=dict,
        description="Routes (alias or model id) where semantic lookup is on; `*` means every route.")
    threshold: float = Field(
        0.95, ge=0.0, le=1.0,
        description="Default cosine similarity for a hit (by the verifier when there is one, else the embedder).")
    min_threshold: float = Field(
        0.90, ge=0.0, le=1.0, description="Operator floor: no route or request may go below it.")
    guard: bool = Field(True, description="Reject hits whose numbers, quotes, negations or order differ.")
    max_temperature: float = Field(
        1.0, ge=0.0, description="Requests above it are not looked up semantically (absent counts as 1.0).")
    max_prompt_chars: int = Field(2000, gt=0, description="Longer last user messages skip semantic lookup.")
    embedder: str = Field(
        "static", description="`static`: the request embedding the router shares (a static table distilled from "
        "MiniLM); `minilm` (the full local encoder) or a registry model id used through its upstream.")
    verifier: str | None = Field(
        "minilm", description="Re-scores the embedder's candidates before a hit (`minilm`), or null for none.")
    candidate_threshold: float = Field(
        0.80, ge=0.0, le=1.0,
        description="With a verifier: the embedder's similarity at which an entry becomes a candidate.")
    embed_timeout_ms: int = Field(
        1000, gt=0, description="Budget for embedding a prompt; over it, no semantic lookup for that request.")
    blas_threads: int = Field(
        1, ge=1, description="BLAS threads for the process: one is fastest for many small products.")
    max_loaded_partitions: int = Field(
        2048, gt=0, description="Partition vector matrices kept in memory per gateway (least recent dropped).")

    def route_threshold(self, route: str) -> float | None:
        """The route's threshold, or None when semantic lookup is off for it."""
        entry = self.routes.get(route)
        entry = self.routes.get("*") if entry is None else entry
        if entry is None:
            return None
        return max(self.min_threshold, entry.threshold if entry.threshold is not None else self.threshold)

    @model_validator(mode="after")
    def _floor_below_default(self) -> SemanticPolicy:
        if self.min_threshold > self.threshold:
            raise ValueError("min_threshold must not exceed threshold")
        return self


class CachePolicy(_Frozen):
    enabled: bool = Field(False, description="The response cache on or off (off unless the policy turns it on).")
    store: bool = Field(True, description="Store new answers; false makes a read-only cache (lookups only).")
    ttl_s: int = Field(3600, gt=0, description="Seconds an entry lives after it was stored.")
    max_entries_per_partition: int = Field(
        10_000, gt=0, description="Least recently used entries beyond this are trimmed.")
    key_prefix: str = Field("turnout:cache", min_length=1, description="Prefix of every Redis key.")
    lookup_timeout_ms: int = Field(50, gt=0, description="Budget for a Redis lookup; over it, bypass.")
    write_timeout_ms: int = Field(250, gt=0, description="Budget for a Redis write; over it, skip.")
    load_timeout_ms: int = Field(
        10_000, gt=0, description="Budget for loading a partition's vectors (runs beside the lookups).")
    max_connections: int = Field(
        64, gt=0, description="Redis connections per gateway; more concurrent calls wait within their budget.")
    retry_after_ms: int = Field(
        500, ge=0, description="After a Redis error, bypass without trying for this long.")
    semantic: SemanticPolicy = SemanticPolicy()

"""What learning keeps: a served request's context (until feedback arrives) and outcome rows.

A *ladder* is an alias's cheaper model (first of its lowest tier) and stronger model (first of its
highest tier). An outcome row holds a prompt's embedding and what is known of each model's answer
(scores in [0, 1]); its label is how much the stronger model was needed:

    label = clip(score(strong) - score(cheap), 0, 1)      score(strong) = 1 when unknown

so a cheap answer that was good is 0, a bad one 1 (less when the stronger model also failed: the
cheaper model stays the cheapest choice, as in RouteLLM's "strong win" labels). A row without a
score for the cheaper model has no label.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson


def _vector_to_text(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()


def _vector_from_text(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32).copy()


@dataclass(frozen=True, slots=True)
class Ladder:
    cheap: str
    strong: str


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What feedback about one request needs (kept `context_ttl_s`; the prompt only if the policy says)."""

    tenant: str
    alias: str
    ladder: Ladder
    served: str | None
    vector: np.ndarray
    prior: float
    score: float
    prompt_chars: int
    prompt: str | None = None
    at: float = field(default_factory=time.time)

    def dumps(self) -> bytes:
        return orjson.dumps({"tenant": self.tenant, "alias": self.alias, "cheap": self.ladder.cheap,
                             "strong": self.ladder.strong, "served": self.served,
                             "vector": _vector_to_text(self.vector), "prior": self.prior, "score": self.score,
                             "prompt_chars": self.prompt_chars, "prompt": self.prompt, "at": self.at})

    @classmethod
    def loads(cls, data: bytes | str) -> RequestContext:
        d: dict[str, Any] = orjson.loads(data)
        return cls(tenant=d["tenant"], alias=d["alias"], ladder=Ladder(d["cheap"], d["strong"]), served=d["served"],
                   vector=_vector_from_text(d["vector"]), prior=float(d["prior"]), score=float(d["score"]),
                   prompt_chars=int(d["prompt_chars"]), prompt=d.get("prompt"), at=float(d["at"]))


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    alias: str
    ladder: Ladder
    vector: np.ndarray
    outcomes: dict[str, float]
    prior: float
    """The cold-start score when the request was routed."""
    predicted: float
    """The score the router used (cold start blended with what it had learned then)."""
    prompt_chars: int
    source: str = "feedback"
    """`feedback` or `shadow`."""
    prompt: str | None = None
    at: float = field(default_factory=time.time)

    @property
    def label(self) -> float | None:
        cheap = self.outcomes.get(self.ladder.cheap)
        if cheap is None:
            return None
        strong = self.outcomes.get(self.ladder.strong, 1.0)
        return min(1.0, max(0.0, strong - cheap))

    def to_json(self) -> dict[str, Any]:
        return {"alias": self.alias, "cheap": self.ladder.cheap, "strong": self.ladder.strong,
                "vector": _vector_to_text(self.vector), "outcomes": self.outcomes, "prior": self.prior,
                "predicted": self.predicted, "prompt_chars": self.prompt_chars, "source": self.source,
                "prompt": self.prompt, "at": self.at}

    def dumps(self) -> bytes:
        return orjson.dumps(self.to_json())

    @classmethod
    def loads(cls, data: bytes | str) -> OutcomeRow:
        d: dict[str, Any] = orjson.loads(data)
        return cls(alias=d["alias"], ladder=Ladder(d["cheap"], d["strong"]), vector=_vector_from_text(d["vector"]),
                   outcomes={str(k): float(v) for k, v in d["outcomes"].items()}, prior=float(d["prior"]),
                   predicted=float(d["predicted"]), prompt_chars=int(d["prompt_chars"]),
                   source=str(d.get("source", "feedback")), prompt=d.get("prompt"), at=float(d["at"]))

    @classmethod
    def from_context(cls, context: RequestContext, outcomes: dict[str, float], *, source: str) -> OutcomeRow:
        return cls(alias=context.alias, ladder=context.ladder, vector=context.vector, outcomes=outcomes,
                   prior=context.prior, predicted=context.score, prompt_chars=context.prompt_chars,
                   source=source, prompt=context.prompt)

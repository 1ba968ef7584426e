"""`POST /v1/feedback`: the body, validated, and the per-tenant flood limit.

    {"request_id": "<x-request-id of the answer>",
     "score": 0.8            # or "thumbs": "up" | "down": the answer that was served
     "scores": {"claude-sim": 1.0}}   # optional: other models of the ladder on the same prompt
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from router.errors import RateLimited, RequestError

_THUMBS = {"up": 1.0, "down": 0.0}


@dataclass(frozen=True, slots=True)
class Feedback:
    request_id: str
    score: float | None
    scores: dict[str, float]


def _score(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestError(f"{param} must be a number in [0, 1]", param=param, code="invalid_score")
    if not 0.0 <= value <= 1.0:
        raise RequestError(f"{param} must be in [0, 1], got {value}", param=param, code="invalid_score")
    return float(value)


def parse_feedback(body: Mapping[str, Any]) -> Feedback:
    unknown = sorted(set(body) - {"request_id", "score", "thumbs", "scores"})
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r}", param=unknown[0])
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 128:
        raise RequestError("request_id must be the x-request-id of an answer (a string)", param="request_id")
    if "score" in body and "thumbs" in body:
        raise RequestError("give either score or thumbs, not both", param="thumbs")
    score = _score(body["score"], "score") if "score" in body else None
    if "thumbs" in body:
        thumbs = body["thumbs"]
        if not isinstance(thumbs, str) or thumbs not in _THUMBS:
            raise RequestError("thumbs must be 'up' or 'down'", param="thumbs")
        score = _THUMBS[thumbs]
    raw = body.get("scores", {})
    if not isinstance(raw, Mapping):
        raise RequestError("scores must be an object of model id to score", param="scores")
    scores = {str(model): _score(value, f"scores.{model}") for model, value in raw.items()}
    if score is None and not scores:
        raise RequestError("give a score (or thumbs) for the answer, or scores for models", param="score")
    return Feedback(request_id, score, scores)


class FloodLimit:
    """At most `per_minute` calls per tenant and minute, per replica: a token bucket that holds a minute's
    worth and refills continuously (no window edge to burst across)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        """tenant -> (tokens, when)."""

    def check(self, tenant: str) -> None:
        now = self._clock()
        rate = self.per_minute / 60.0
        tokens, when = self._buckets.get(tenant, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - when) * rate)
        if tokens < 1.0:
            self._buckets[tenant] = (tokens, now)
            raise RateLimited(f"more than {self.per_minute} feedback calls a minute for this tenant",
                              retry_after=(1.0 - tokens) / rate, code="feedback_rate_limited")
        self._buckets[tenant] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:  # forget tenants whose buckets are full again
            self._buckets = {t: b for t, b in self._buckets.items() if b[0] + (now - b[1]) * rate < self.per_minute}

"""The public result of classifying one request."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from registry.spec import Tier


class Task(enum.StrEnum):
    """What kind of work a request asks for."""

    CODE = "code"
    MATH = "math"
    REASONING = "reasoning"
    KNOWLEDGE = "knowledge"
    EXTRACTION = "extraction"
    SUMMARISATION = "summarisation"
    TRANSLATION = "translation"
    CREATIVE = "creative"
    CHAT = "chat"


@dataclass(frozen=True, slots=True)
class Classification:
    """How hard a request is and what kind of work it is.

    `probabilities` are the calibrated chances of tiers 1, 2 and 3 (they sum to 1); `score` is the
    chance the request needs more than the cheap model, P(tier >= 2), so it is monotone in need
    for a stronger model and suitable for threshold sweeps. `uncertain` is true when the top
    probability is below the margin the caller passed.
    """

    tier: Tier
    score: float
    probabilities: tuple[float, float, float]
    task: Task
    uncertain: bool
    length_prior: float = 0.0
    """Share of the training prompts shorter than this request: what the length rule alone would say."""


class RequestClassifier(Protocol):
    """What the gateway needs from a classifier (`classifier.Classifier` is the implementation; tests may fake it)."""

    def classify(self, messages: Sequence[Mapping[str, Any]], *, tools: Sequence[Any] | None = None,
                 response_format: Mapping[str, Any] | None = None,
                 uncertainty_margin: float = 0.5, embedding: Any = None) -> Classification: ...

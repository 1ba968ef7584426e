"""The training prompts nearest to a request, with their outcomes: why the router scored it so.

For `turnout route --explain` and `POST /v1/route` only, never on the chat path: building the index
embeds every committed training prompt (about a second), and a lookup is a dot product over them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from classifier.dataset import CORRECT, Example
from classifier.ladders import pairs_of
from classifier.request import TextEmbedder, embed_requests

SNIPPET = 160


@dataclass(frozen=True, slots=True)
class Neighbour:
    prompt: str  # the start of the training prompt
    family: str
    source: str
    similarity: float
    outcome: str  # e.g. "gemma-2-9b-it wrong, gpt-4o-2024-08-06 right: needed the stronger model"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def outcome_text(example: Example) -> str:
    pairs = pairs_of(example.source)
    if not pairs or not example.outcomes:
        return f"no outcomes: weak label tier {example.tier}"
    cheap, strong = pairs[0]
    c, s = example.outcomes.get(cheap), example.outcomes.get(strong)
    if c is None or s is None:
        return "outcomes incomplete"
    verdict = ("the cheaper model was enough" if c >= CORRECT else
               "needed the stronger model" if s >= CORRECT else "neither model was right")
    word = {True: "right", False: "wrong"}
    return f"{cheap} {word[c >= CORRECT]}, {strong} {word[s >= CORRECT]}: {verdict}"


class Neighbours:
    """Embedded training prompts; `nearest(vector, k)` by cosine similarity."""

    def __init__(self, vectors: np.ndarray, examples: Sequence[Example], texts: Sequence[str]) -> None:
        self._vectors = vectors
        self._examples = list(examples)
        self._texts = list(texts)

    @classmethod
    def build(cls, embedder: TextEmbedder, examples: Sequence[Example]) -> Neighbours:
        embedded = embed_requests(embedder, [e.messages for e in examples])
        return cls(np.stack([r.vector for r in embedded]), examples, [r.text for r in embedded])

    def nearest(self, vector: np.ndarray, k: int = 3) -> list[Neighbour]:
        sims = self._vectors @ vector
        top = np.argsort(-sims, kind="stable")[:k]
        out = []
        for i in top.tolist():
            e, text = self._examples[i], " ".join(self._texts[i].split())
            out.append(Neighbour(prompt=text[:SNIPPET] + ("..." if len(text) > SNIPPET else ""), family=e.group,
                                 source=e.source, similarity=round(float(sims[i]), 3), outcome=outcome_text(e)))
        return out


class TrainingPrompts:
    """The committed training prompts' `Neighbours`, built on first use (embedding 17,430 prompts takes a
    second idle, tens of seconds on a loaded box) and shared by every classifier a process loads: they
    explain with the same prompts, so a reloaded artifact does not embed them again."""

    def __init__(self) -> None:
        self._built: Neighbours | None = None
        self._lock = threading.Lock()

    def neighbours(self, build: Callable[[], Neighbours]) -> Neighbours:
        with self._lock:  # one build: a concurrent caller waits for it
            if self._built is None:
                self._built = build()
            return self._built

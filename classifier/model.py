"""The serving model: a learned router head on the request embedding, applied in a few microseconds.

`classify` reads the `embedding.RequestEmbedding` the gateway computed once for the request (or embeds
the messages itself when none is given): score = calibrated P(the cheaper model is not good enough),
tier from two calibrated thresholds on that score, task from clear cues then a linear head on the
embedding. `explain` adds the length prior and the nearest training prompts (off the chat path).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier import artifact
from classifier.neighbours import Neighbour, Neighbours, TrainingPrompts
from classifier.ordinal import Ordinal
from classifier.request import TextEmbedder, embed_requests
from classifier.scorer import LEVELS, Centroids, Linear, RankBlend, Relative, Scorer, interp
from classifier.tasks import cue_task
from classifier.types import Classification, Task
from embedding import RequestEmbedding
from registry.spec import Tier

log = logging.getLogger("turnout.classifier")
DEFAULT_ARTIFACT = Path(__file__).parent / "artifacts" / "classifier.npz"
DEFAULT_DATA = Path(__file__).parent / "data" / "routing.jsonl.gz"
DEFAULT_NEIGHBOURS = Path(__file__).parent / "artifacts" / "neighbours.npz"
FORMAT_VERSION = 2
RELATIVE_FORMAT = 3  # a head on relative length: centroids in the artifact


@dataclass(frozen=True, slots=True)
class Weights:
    scorer: Scorer
    ordinal: Ordinal
    task_w: np.ndarray  # (d, K)
    task_b: np.ndarray  # (K,)
    tasks: tuple[Task, ...]
    length_grid: np.ndarray  # quantiles of log1p(prompt chars) over the training rows: the length prior

    def arrays(self) -> dict[str, np.ndarray]:
        head, blend, centroids, _ = _parts(self.scorer)
        out = {"head_w": head.w, "task_w": self.task_w, "task_b": self.task_b, "length_grid": self.length_grid}
        if blend is not None:
            out["head_grid"] = blend.head_grid
        if centroids is not None:
            out |= {"centroids": centroids.centroids, "centroid_length": centroids.mean_length}
            if blend is not None and isinstance(self.scorer, Relative):  # the blend's prior is relative length
                out["prior_grid"] = blend.length_grid
        return out

    def head_meta(self) -> dict[str, Any]:
        head, blend, _, relative = _parts(self.scorer)
        meta: dict[str, Any] = {"kind": "linear" if blend is None else "rank", "w_len": head.w_len, "bias": head.bias}
        return meta | ({"relative": relative} if relative != "none" else {})

    @property
    def format_version(self) -> int:
        """2, or 3 when the head reads relative length (an older loader must not ignore the centroids)."""
        return FORMAT_VERSION if _parts(self.scorer)[2] is None else RELATIVE_FORMAT

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Weights:
        if meta.get("format") not in (FORMAT_VERSION, RELATIVE_FORMAT):
            raise artifact.ArtifactError(f"unsupported classifier artifact format {meta.get('format')!r}")
        f64 = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
        head = Linear(w=f64["head_w"], w_len=float(meta["head"]["w_len"]), bias=float(meta["head"]["bias"]))
        relative = meta["head"].get("relative", "none")
        centroids = Centroids(centroids=f64["centroids"], mean_length=f64["centroid_length"]) \
            if relative != "none" else None
        inner: Linear | Relative = head if centroids is None or relative != "head" else Relative(head, centroids)
        scorer: Scorer = inner
        if meta["head"]["kind"] == "rank":
            prior = f64["prior_grid"] if relative == "all" else f64["length_grid"]
            blend = RankBlend(head=inner, head_grid=f64["head_grid"], length_grid=prior)
            scorer = Relative(blend, centroids) if centroids is not None and relative == "all" else blend
        elif centroids is not None:
            scorer = Relative(head, centroids)
        return cls(scorer=scorer, ordinal=Ordinal.from_json(meta["ordinal"]), task_w=f64["task_w"],
                   task_b=f64["task_b"], tasks=tuple(Task(t) for t in meta["tasks"]), length_grid=f64["length_grid"])


def _parts(scorer: Scorer) -> tuple[Linear, RankBlend | None, Centroids | None, str]:
    """(linear head, rank blend or None, centroids or None, what reads relative length: none, head or all)."""
    if isinstance(scorer, Linear):
        return scorer, None, None, "none"
    if isinstance(scorer, RankBlend):
        if isinstance(scorer.head, Relative):
            assert isinstance(scorer.head.inner, Linear)
            return scorer.head.inner, scorer, scorer.head.centroids, "head"
        return scorer.head, scorer, None, "none"
    inner, blend, _, _ = _parts(scorer.inner)
    return inner, blend, scorer.centroids, "head" if blend is None else "all"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a request got its score: the score, the length prior's view, the nearest training prompts."""

    score: float
    tier: int
    length_prior: float  # share of training prompts shorter than this one: the length rule's score
    neighbours: tuple[Neighbour, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "tier": self.tier, "length_prior": round(self.length_prior, 4),
                "nearest_training_prompts": [n.to_dict() for n in self.neighbours]}


class Classifier:
    """Scores a chat request from its embedding. Build once, call per request."""

    def __init__(self, *, weights: Weights, meta: Mapping[str, Any] | None = None,
                 embedder: TextEmbedder | None = None, training_prompts: TrainingPrompts | None = None) -> None:
        self._w = weights
        self.meta: Mapping[str, Any] = dict(meta or {})
        self._embedder = embedder
        # what `explain` draws the nearest prompts from: another classifier's, to share it
        self.training_prompts = training_prompts or TrainingPrompts()
        self._length_grid = tuple(weights.length_grid.tolist())
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, *, expected_sha256: str | None = None, embedder: TextEmbedder | None = None,
                  training_prompts: TrainingPrompts | None = None) -> Classifier:
        """Load a verified artifact (raises ArtifactError when the hash or format does not match)."""
        arrays, meta = artifact.load(path, expected_sha256)
        try:
            return cls(weights=Weights.from_arrays(arrays, meta), meta=meta, embedder=embedder,
                       training_prompts=training_prompts)
        except (KeyError, ValueError, TypeError) as exc:
            raise artifact.ArtifactError(f"classifier artifact {path} is incomplete: {exc}") from exc

    def with_embedder(self, embedder: TextEmbedder) -> Classifier:
        """The same weights over `embedder` (the gateway's request embedder: one table in memory, and the
        explainer's index checked against the embedding the requests get)."""
        return Classifier(weights=self._w, meta=self.meta, embedder=embedder)

    def embedder(self) -> TextEmbedder:
        """The static embedder, loaded on first use (the gateway passes embeddings and never needs it)."""
        with self._lock:
            if self._embedder is None:
                from embedding import StaticEmbedder

                self._embedder = StaticEmbedder.load()
            return self._embedder

    def embed(self, messages: Sequence[Mapping[str, Any]]) -> RequestEmbedding:
        return embed_requests(self.embedder(), [messages])[0]

    def classify(self, messages: Sequence[Mapping[str, Any]], *, tools: Sequence[Any] | None = None,
                 response_format: Mapping[str, Any] | None = None, uncertainty_margin: float = 0.5,
                 embedding: RequestEmbedding | None = None) -> Classification:
        """Tier, score, calibrated probabilities and task of one request (tens of microseconds given
        `embedding`). `tools` and `response_format` are accepted for the protocol; no training row has
        them, so the head has learned nothing from them (routing filters models by capability)."""
        e = embedding if embedding is not None else self.embed(messages)
        w = self._w
        log_chars = math.log1p(e.prompt_chars)
        p = w.ordinal.probabilities(w.scorer.one(e.vector, log_chars))
        task = cue_task(e.text.lower()) or w.tasks[int(np.argmax(e.vector @ w.task_w + w.task_b))]
        return Classification(tier=Tier(w.ordinal.tier(p)), score=min(1.0, max(0.0, p[1] + p[2])),
                              probabilities=p, task=task, uncertain=max(p) < uncertainty_margin,
                              length_prior=interp(log_chars, self._length_grid, LEVELS))

    def probabilities(self, embedding: RequestEmbedding) -> tuple[float, float, float]:
        """Calibrated (P1, P2, P3) of a request: the score alone (P2 + P3), without the task."""
        w = self._w
        return w.ordinal.probabilities(w.scorer.one(embedding.vector, math.log1p(embedding.prompt_chars)))

    def neighbours(self) -> Neighbours:
        """The embedded training prompts: the committed index, loaded on first use (a fraction of a
        second; embedded again from the training data only when the index does not match it), or
        shared (`training_prompts`)."""
        return self.training_prompts.neighbours(lambda: load_neighbours(self.embedder()))

    def explain(self, messages: Sequence[Mapping[str, Any]], *, embedding: RequestEmbedding | None = None,
                k: int = 3) -> Explanation:
        """The score with the length prior and the `k` nearest training prompts and their outcomes."""
        e = embedding if embedding is not None else self.embed(messages)
        result = self.classify(messages, embedding=e)
        return Explanation(score=result.score, tier=int(result.tier), length_prior=result.length_prior,
                           neighbours=tuple(self.neighbours().nearest(e.vector, k)))



def load_neighbours(embedder: TextEmbedder, path: Path = DEFAULT_NEIGHBOURS, data: Path = DEFAULT_DATA) -> Neighbours:
    """The committed neighbour index, or (missing, altered or stale: logged) one built from `data`."""
    try:
        return Neighbours.load(path, embedder, data_sha256=artifact.sha256_of(data))
    except artifact.ArtifactError as exc:
        from classifier.dataset import read_examples

        log.warning("%s; embedding the training prompts instead (seconds)", exc)
        return Neighbours.build(embedder, read_examples(data))


@functools.cache
def load_default() -> Classifier:
    """The shipped classifier, loaded and verified once per process."""
    return Classifier.from_file(DEFAULT_ARTIFACT)

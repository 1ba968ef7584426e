"""The serving model: fitted weights as numpy arrays, applied to one conversation in well under 1 ms."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier import artifact
from classifier.conversation import parse
from classifier.features import dense, sparse_indices, sparse_keys
from classifier.ordinal import Ordinal
from classifier.tasks import cue_task
from classifier.types import Classification, Task
from registry.spec import Tier

DEFAULT_ARTIFACT = Path(__file__).parent / "artifacts" / "classifier.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Head:
    """One linear layer over [sparse keys (L2-normalised binary), standardised dense features]."""

    vocab_w: np.ndarray  # (V, K)
    dense_w: np.ndarray  # (D, K)
    bias: np.ndarray  # (K,)

    def logits(self, rows: np.ndarray, z: np.ndarray) -> np.ndarray:
        out = self.bias + z @ self.dense_w
        if rows.size:
            out = out + self.vocab_w[rows].sum(axis=0) / math.sqrt(rows.size)
        result: np.ndarray = out
        return result


@dataclass(frozen=True, slots=True)
class Weights:
    vocab: dict[str, int]
    mean: np.ndarray
    scale: np.ndarray
    tier: Head  # one output: the difficulty logit
    ordinal: Ordinal
    task: Head
    tasks: tuple[Task, ...]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "tier_vocab_w": self.tier.vocab_w,
                "tier_dense_w": self.tier.dense_w, "tier_bias": self.tier.bias, "task_vocab_w": self.task.vocab_w,
                "task_dense_w": self.task.dense_w, "task_bias": self.task.bias}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Weights:
        if meta.get("format") != FORMAT_VERSION:
            raise artifact.ArtifactError(f"unsupported classifier artifact format {meta.get('format')!r}")
        f64 = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
        return cls(
            vocab={key: i for i, key in enumerate(meta["vocab"])}, mean=f64["mean"], scale=f64["scale"],
            tier=Head(f64["tier_vocab_w"], f64["tier_dense_w"], f64["tier_bias"]),
            ordinal=Ordinal.from_json(meta["ordinal"]),
            task=Head(f64["task_vocab_w"], f64["task_dense_w"], f64["task_bias"]),
            tasks=tuple(Task(t) for t in meta["tasks"]),
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    out: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return out


class Classifier:
    """Classifies a chat request by complexity tier and task type. Build once, call per request."""

    def __init__(self, *, weights: Weights, meta: Mapping[str, Any] | None = None) -> None:
        self._w = weights
        self.meta: Mapping[str, Any] = dict(meta or {})

    @classmethod
    def from_file(cls, path: Path, *, expected_sha256: str | None = None) -> Classifier:
        """Load a verified artifact (raises ArtifactError when the hash or format does not match)."""
        arrays, meta = artifact.load(path, expected_sha256)
        try:
            return cls(weights=Weights.from_arrays(arrays, meta), meta=meta)
        except (KeyError, ValueError, TypeError) as exc:
            raise artifact.ArtifactError(f"classifier artifact {path} is incomplete: {exc}") from exc

    def classify(self, messages: Sequence[Mapping[str, Any]], *, tools: Sequence[Any] | None = None,
                 response_format: Mapping[str, Any] | None = None,
                 uncertainty_margin: float = 0.5, embedding: Any = None) -> Classification:
        """Tier, score, calibrated probabilities and task of one request (CPU only, well under 1 ms)."""
        w = self._w
        conv = parse(messages, tools, response_format)
        rows = sparse_indices(sparse_keys(conv), w.vocab)
        z = (np.asarray(dense(conv)) - w.mean) / w.scale
        p = w.ordinal.probabilities(float(w.tier.logits(rows, z)[0]))
        task = cue_task(conv.last_user.lower()) or w.tasks[int(np.argmax(w.task.logits(rows, z)))]
        return Classification(tier=Tier(w.ordinal.tier(p)), score=min(1.0, max(0.0, p[1] + p[2])),
                              probabilities=p, task=task, uncertain=max(p) < uncertainty_margin)


@functools.cache
def load_default() -> Classifier:
    """The shipped classifier, loaded and verified once per process."""
    return Classifier.from_file(DEFAULT_ARTIFACT)

"""The training prompts nearest to a request, with their outcomes: why the router scored it so.

For `turnout route --explain` and `POST /v1/route` only, never on the chat path. The index is a
committed artifact (`artifacts/neighbours.npz`, written by `turnout classifier train` and
`turnout classifier neighbours`): every training prompt's embedding as int8 with a per-row scale,
the prompts' texts and their outcomes. Loading it takes a fraction of a second; embedding the
17,430 prompts again took 3-40 s, which a gateway's first explained decision used to pay.

A lookup scans the rows (dequantised once, at load), keeps every row whose similarity could still
reach the k-th best (each row's quantisation error is stored: |error . q| <= |error| |q|), and embeds
those few prompts again exactly, so the neighbours and similarities are the ones a float32 scan of
the full embeddings gives.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier import artifact
from classifier.dataset import CORRECT, Example
from classifier.ladders import pairs_of
from classifier.request import TextEmbedder, embed_requests

SNIPPET = 160
FORMAT = 1
PROBE = "Probe sentence: which model should answer how to sort a list in Python, and why?"
_SLACK = 1e-4  # float32 rounding of the scan and of the exact products, on top of the quantisation bound


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


def fingerprint(embedder: TextEmbedder) -> str:
    """Which embedding the index was built with: the sha256 of a fixed sentence's vector."""
    return hashlib.sha256(np.ascontiguousarray(embedder.encode([PROBE]), dtype=np.float32).tobytes()).hexdigest()


def _labels(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    names = sorted(set(values))
    index = {name: i for i, name in enumerate(names)}
    return names, np.array([index[v] for v in values], dtype=np.uint16)


class Neighbours:
    """Embedded training prompts; `nearest(vector, k)` by cosine similarity."""

    def __init__(self, *, codes: np.ndarray, scales: np.ndarray, errors: np.ndarray, texts: bytes,
                 offsets: np.ndarray, labels: Mapping[str, tuple[Sequence[str], np.ndarray]],
                 embedder: TextEmbedder) -> None:
        self._codes = codes  # (n, d) int8: row i ~= codes[i] * scales[i]
        self._scales = scales  # (n,) float32
        self._errors = errors  # (n,) float32: |row i - codes[i] * scales[i]|
        self._rows = codes.astype(np.float32) * scales[:, None]  # what a scan multiplies
        self._texts = texts  # UTF-8 request texts, back to back
        self._offsets = offsets  # (n + 1,) byte offsets into `texts`
        self._labels = labels  # "family" / "source" / "outcome": (names, one index per row)
        self._embedder = embedder

    def __len__(self) -> int:
        return int(self._codes.shape[0])

    @classmethod
    def build(cls, embedder: TextEmbedder, examples: Sequence[Example]) -> Neighbours:
        embedded = embed_requests(embedder, [e.messages for e in examples])
        vectors = np.stack([r.vector for r in embedded]).astype(np.float32)
        peak = np.abs(vectors).max(axis=1)
        scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        codes = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
        errors = np.linalg.norm(vectors - codes.astype(np.float32) * scales[:, None], axis=1).astype(np.float32)
        encoded = [r.text.encode("utf-8") for r in embedded]
        offsets = np.concatenate([[0], np.cumsum([len(t) for t in encoded])]).astype(np.int64)
        labels = {"family": _labels([e.group for e in examples]), "source": _labels([e.source for e in examples]),
                  "outcome": _labels([outcome_text(e) for e in examples])}
        return cls(codes=codes, scales=scales, errors=errors, texts=b"".join(encoded), offsets=offsets,
                   labels=labels, embedder=embedder)

    def save(self, path: Path, *, data_sha256: str) -> str:
        """Write the index reproducibly (sha256 recorded beside it); returns the sha256."""
        arrays = {"codes": self._codes, "scales": self._scales, "errors": self._errors, "offsets": self._offsets,
                  "texts": np.frombuffer(self._texts, dtype=np.uint8)}
        arrays.update({name: index for name, (_, index) in self._labels.items()})
        meta = {"format": FORMAT, "rows": len(self), "data_sha256": data_sha256,
                "embedding": fingerprint(self._embedder),
                "labels": {name: list(names) for name, (names, _) in self._labels.items()}}
        return artifact.save(path, arrays, meta)

    @classmethod
    def load(cls, path: Path, embedder: TextEmbedder, *, data_sha256: str) -> Neighbours:
        """The committed index (raises `artifact.ArtifactError` when it is missing, altered, or was built
        from other training data or another embedding than `embedder`'s)."""
        arrays, meta = artifact.load(path)
        if meta.get("format") != FORMAT or meta.get("data_sha256") != data_sha256:
            raise artifact.ArtifactError(f"{path} was built from other training data; rebuild it with "
                                         "`turnout classifier neighbours`")
        if meta.get("embedding") != fingerprint(embedder):
            raise artifact.ArtifactError(f"{path} was built with another embedding; rebuild it with "
                                         "`turnout classifier neighbours`")
        try:
            labels = {name: (tuple(names), arrays[name]) for name, names in meta["labels"].items()}
            return cls(codes=arrays["codes"], scales=arrays["scales"], errors=arrays["errors"],
                       texts=arrays["texts"].tobytes(), offsets=arrays["offsets"], labels=labels, embedder=embedder)
        except KeyError as exc:
            raise artifact.ArtifactError(f"{path} is incomplete: {exc}") from exc

    def text(self, row: int) -> str:
        return self._texts[int(self._offsets[row]):int(self._offsets[row + 1])].decode("utf-8")

    def _label(self, name: str, row: int) -> str:
        names, index = self._labels[name]
        return names[int(index[row])]

    def _candidates(self, vector: np.ndarray, k: int) -> np.ndarray:
        """Every row whose exact similarity may be among the k best (the int8 error bounded per row)."""
        query = vector.astype(np.float32)
        rough = self._rows @ query
        error = self._errors * np.float32(np.linalg.norm(query)) + np.float32(_SLACK)
        low = rough - error
        k = min(k, len(self))
        floor = np.partition(low, len(low) - k)[len(low) - k]
        return np.flatnonzero(rough + error >= floor)

    def nearest(self, vector: np.ndarray, k: int = 3) -> list[Neighbour]:
        if k <= 0 or not len(self):
            return []
        rows = self._candidates(vector, k)
        texts = [self.text(int(r)) for r in rows]
        unique = list(dict.fromkeys(texts))  # copies of one prompt are embedded once
        exact = dict(zip(unique, self._embedder.encode(unique) @ vector, strict=True))
        sims = [exact[t] for t in texts]
        order = sorted(range(len(rows)), key=lambda i: (-float(sims[i]), int(rows[i])))[:k]
        out = []
        for i in order:
            row, text = int(rows[i]), " ".join(texts[i].split())
            out.append(Neighbour(prompt=text[:SNIPPET] + ("..." if len(text) > SNIPPET else ""),
                                 family=self._label("family", row), source=self._label("source", row),
                                 similarity=round(float(sims[i]), 3), outcome=self._label("outcome", row)))
        return out


class TrainingPrompts:
    """The committed training prompts' `Neighbours`, loaded on first use (the committed index: a fraction
    of a second) and shared by every classifier a process loads: they explain with the same prompts, so
    a reloaded artifact does not load or embed them again."""

    def __init__(self) -> None:
        self._built: Neighbours | None = None
        self._lock = threading.Lock()

    def neighbours(self, build: Callable[[], Neighbours]) -> Neighbours:
        with self._lock:  # one build: a concurrent caller waits for it
            if self._built is None:
                self._built = build()
            return self._built

"""Labelled examples -> the arrays every candidate head is fitted and judged on.

The target of a row is the chance the cheaper model of a pair is not good enough: for each of its
source's pairs (`classifier.ladders`), 1 when the cheaper model is wrong and the stronger right, 0 when
the cheaper one is right, undefined when both are wrong (no routing signal); the row's target is the
mean over its defined pairs and its weight shrinks with the share of pairs left undefined. Weak labels
(`difficulty` rows, no outcomes) and operator rows with only a tier count as 1 for tier >= 2. An
exported outcome row (`classifier.outcomes`) is judged along its alias's ladder and brings its own
request embedding, which is used as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifier.dataset import CORRECT, Example
from classifier.ladders import pairs_of
from classifier.request import TextEmbedder, embed_requests
from classifier.tasks import cue_task
from classifier.types import Task
from embedding import RequestEmbedding, request_text


@dataclass(frozen=True, slots=True)
class TrainSet:
    vectors: np.ndarray  # (n, d) float32 request embeddings
    log_chars: np.ndarray  # (n,) log1p(prompt characters): the length prior's input
    target: np.ndarray  # (n,) in [0, 1]; 0 where no pair is defined (weight 0 there)
    weights: np.ndarray  # (n,) example weight x share of defined pairs, families balanced
    groups: np.ndarray  # (n,) task family: the held-out unit
    tiers: np.ndarray  # (n,) 0-based tier along the source's three-model ladder
    outcome: np.ndarray  # (n,) bool: labelled by real outcomes (calibration is fitted on these only)
    pair_target: np.ndarray  # (n, P) per pair, nan where undefined or not the row's source
    pair_names: tuple[str, ...]
    q_cheap: np.ndarray  # (n,) outcome of the cheap end of the primary pair (nan: none)
    q_strong: np.ndarray  # (n,) outcome of the strong end
    tasks: tuple[Task | None, ...]
    texts: tuple[str, ...]

    def take(self, index: np.ndarray) -> TrainSet:
        return TrainSet(
            vectors=self.vectors[index], log_chars=self.log_chars[index], target=self.target[index],
            weights=self.weights[index], groups=self.groups[index], tiers=self.tiers[index],
            outcome=self.outcome[index], pair_target=self.pair_target[index], pair_names=self.pair_names,
            q_cheap=self.q_cheap[index], q_strong=self.q_strong[index],
            tasks=tuple(self.tasks[i] for i in index), texts=tuple(self.texts[i] for i in index))

    @property
    def judged(self) -> np.ndarray:
        """Rows with both outcomes of their primary pair: the rows routing quality is measured on."""
        mask: np.ndarray = ~np.isnan(self.q_cheap) & ~np.isnan(self.q_strong)
        return mask


def _pair_outcome(example: Example, cheap: str, strong: str) -> float:
    """1 cheap wrong and strong right, 0 cheap right, nan both wrong or unknown."""
    c, s = example.outcomes.get(cheap), example.outcomes.get(strong)
    if c is None or s is None:
        return float("nan")
    if c >= CORRECT:
        return 0.0
    return 1.0 if s >= CORRECT else float("nan")


def family_balance(groups: np.ndarray) -> np.ndarray:
    """(median family size / family size) per row: every task family weighs the same in a fit."""
    sizes = Counter(groups.tolist())
    median = float(np.median(list(sizes.values())))
    return np.asarray([median / sizes[g] for g in groups.tolist()])


def _embeddings(examples: Sequence[Example], embedder: TextEmbedder) -> list[RequestEmbedding]:
    """Each example's request embedding: the one it carries (an exported outcome row's), else embedded."""
    fresh = iter(embed_requests(embedder, [e.messages for e in examples if e.vector is None]))
    return [next(fresh) if e.vector is None else
            RequestEmbedding(text=request_text(e.messages) if e.messages else "",
                             vector=e.vector.astype(np.float32), prompt_chars=e.prompt_chars, turns=1)
            for e in examples]


def outcome_weights(weights: np.ndarray, outcome_rows: np.ndarray, share: float) -> np.ndarray:
    """`weights` with the exported outcome rows scaled to carry `share` of the total (when there are
    rows of both kinds): the operator's own traffic weighs that much against every task family."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"the outcome rows' share of the weight must be in (0, 1), not {share}")
    mine, other = float(weights[outcome_rows].sum()), float(weights[~outcome_rows].sum())
    if mine <= 0 or other <= 0:
        return weights
    scaled = weights.copy()
    scaled[outcome_rows] *= share / (1.0 - share) * other / mine
    return scaled


def prepare(examples: Sequence[Example], embedder: TextEmbedder, *, outcome_share: float = 0.5) -> TrainSet:
    """Embed every example and derive its targets (see the module docstring); exported outcome rows
    carry `outcome_share` of the total weight."""
    ladders = sorted({(e.source, e.ladder or ()) for e in examples})
    names = list(dict.fromkeys(f"{s}:{c}>{t}" for s, ladder in ladders for c, t in pairs_of(s, ladder or None)))
    column = {name: i for i, name in enumerate(names)}
    pair_target = np.full((len(examples), len(names)), np.nan)
    target, share = np.zeros(len(examples)), np.zeros(len(examples))
    q_cheap, q_strong = np.full(len(examples), np.nan), np.full(len(examples), np.nan)
    for i, e in enumerate(examples):
        pairs = pairs_of(e.source, e.ladder)
        for cheap, strong in pairs:
            pair_target[i, column[f"{e.source}:{cheap}>{strong}"]] = _pair_outcome(e, cheap, strong)
        if pairs:
            q_cheap[i], q_strong[i] = (e.outcomes.get(m, np.nan) for m in pairs[0])
        if pairs and e.outcomes:
            values = [pair_target[i, column[f"{e.source}:{c}>{s}"]] for c, s in pairs]
            defined = [v for v in values if not np.isnan(v)]
            target[i] = float(np.mean(defined)) if defined else 0.0
            share[i] = len(defined) / len(values)
        else:  # weak labels and tier-only operator rows
            target[i], share[i] = float(e.tier >= 2), 1.0
    embeddings = _embeddings(examples, embedder)
    groups = np.asarray([e.group for e in examples])
    weights = np.asarray([e.weight for e in examples]) * share
    return TrainSet(
        vectors=np.stack([r.vector for r in embeddings]).astype(np.float32),
        log_chars=np.log1p(np.asarray([r.prompt_chars for r in embeddings], dtype=np.float64)),
        target=target, groups=groups,
        weights=outcome_weights(weights * family_balance(groups), np.asarray([e.ladder is not None for e in examples],
                                                                              dtype=bool), outcome_share),
        tiers=np.asarray([e.tier - 1 for e in examples]),
        outcome=np.asarray([e.outcome_labelled and bool(e.outcomes) for e in examples]),
        pair_target=pair_target, pair_names=tuple(names), q_cheap=q_cheap, q_strong=q_strong,
        tasks=tuple(Task(e.task) if e.task else cue_task(r.text.lower()) for e, r in zip(examples, embeddings,
                                                                                       strict=True)),
        texts=tuple(r.text for r in embeddings))

"""Fitting (scikit-learn): features -> design matrix -> multinomial logistic heads -> serving weights.

Imported only by the train and eval commands; the serving path (`classifier.model`) needs numpy alone.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]

from classifier.conversation import parse
from classifier.dataset import CORRECT, Example
from classifier.features import dense, sparse_keys
from classifier.model import Head, Weights
from classifier.ordinal import Ordinal
from classifier.progress import progress
from classifier.tasks import cue_task
from classifier.types import Task

FIXED_EFFECT_SCALE = 10.0
LEARNED_TASKS = (Task.CODE, Task.MATH, Task.REASONING, Task.KNOWLEDGE, Task.CREATIVE, Task.CHAT)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What to fit; the defaults are the shipped choice (see classifier/README.md for the comparison)."""

    c: float = 0.1
    task_c: float = 1.0
    tier_sparse: bool = False  # words and bigrams in the tier head too (the task head always uses them)
    min_groups: int = 3  # a word or bigram must occur in this many task families to enter the vocabulary
    min_count: int = 5
    max_vocab: int = 20000
    group_balance: float = 1.0  # weight rows by (median group size / group size) ** this: 1 = families equal
    fixed_effects: bool = False  # a per-family intercept while fitting (see _fit_head)
    drop_unsolved: bool = True  # leave rows no model got right out of the tier head (they hold no signal)
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Featurized:
    keys: list[list[str]]
    dense: np.ndarray
    tiers: np.ndarray  # 0-based
    weights: np.ndarray
    groups: np.ndarray
    tasks: list[Task | None]
    unsolved: np.ndarray  # rows with outcomes where no model was right: no routing signal
    outcome: np.ndarray  # tiers from outcomes along a price ladder, not weak labels: calibration is fitted on these


def featurize(examples: Sequence[Example], *, show_progress: bool = True) -> Featurized:
    keys, rows, tasks = [], [], []
    items = progress(examples, total=len(examples), label="features") if show_progress else examples
    for example in items:
        conv = parse(example.messages, example.tools, example.response_format)
        keys.append(sorted(set(sparse_keys(conv))))
        rows.append(dense(conv))
        tasks.append(Task(example.task) if example.task else cue_task(conv.last_user.lower()))
    return Featurized(
        keys=keys, dense=np.asarray(rows, dtype=np.float64), tiers=np.asarray([e.tier - 1 for e in examples]),
        weights=np.asarray([e.weight for e in examples], dtype=np.float64),
        groups=np.asarray([e.group for e in examples]), tasks=tasks,
        unsolved=np.asarray([bool(e.outcomes) and max(e.outcomes.values()) < CORRECT for e in examples]),
        outcome=np.asarray([e.outcome_labelled for e in examples], dtype=bool),
    )


def subset(feat: Featurized, index: np.ndarray) -> Featurized:
    return Featurized(keys=[feat.keys[i] for i in index], dense=feat.dense[index], tiers=feat.tiers[index],
                      weights=feat.weights[index], groups=feat.groups[index], tasks=[feat.tasks[i] for i in index],
                      unsolved=feat.unsolved[index], outcome=feat.outcome[index])


def build_vocab(feat: Featurized, config: TrainConfig) -> list[str]:
    """Keys seen in at least `min_groups` task families and `min_count` rows, most frequent first."""
    counts: Counter[str] = Counter()
    families: defaultdict[str, set[str]] = defaultdict(set)
    for keys, group in zip(feat.keys, feat.groups, strict=True):
        counts.update(keys)
        for key in keys:
            families[key].add(str(group))
    kept = [k for k, n in counts.items() if n >= config.min_count and len(families[k]) >= config.min_groups]
    kept.sort(key=lambda k: (-counts[k], k))
    return kept[: config.max_vocab]


def design(feat: Featurized, vocab: list[str], mean: np.ndarray, scale: np.ndarray) -> sparse.csr_matrix:
    """[L2-normalised binary key indicators | standardised dense features], as in `Head.logits`."""
    index = {k: i for i, k in enumerate(vocab)}
    indptr, cols, vals = [0], [], []
    for keys in feat.keys:
        found = [i for k in keys if (i := index.get(k)) is not None]
        cols += found
        vals += [1.0 / math.sqrt(max(1, len(found)))] * len(found)
        indptr.append(len(cols))
    bag = sparse.csr_matrix((vals, cols, indptr), shape=(len(feat.keys), max(1, len(vocab))))
    z = (feat.dense - mean) / scale
    matrix: sparse.csr_matrix = sparse.hstack([bag, sparse.csr_matrix(z)], format="csr")
    return matrix


def balanced_weights(feat: Featurized, power: float) -> np.ndarray:
    sizes = Counter(feat.groups.tolist())
    median = float(np.median(list(sizes.values())))
    factor = np.asarray([(median / sizes[g]) ** power for g in feat.groups.tolist()])
    out: np.ndarray = feat.weights * factor
    normalised: np.ndarray = out / out.mean()
    return normalised


def _group_columns(groups: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """One column per task family (scaled so the penalty barely touches it) and each family's row share."""
    names, codes = np.unique(groups, return_inverse=True)
    onehot = sparse.csr_matrix((np.full(len(codes), FIXED_EFFECT_SCALE), (np.arange(len(codes)), codes)),
                               shape=(len(codes), len(names)))
    return onehot, np.bincount(codes, minlength=len(names)) / len(codes)


def _fit_head(x: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, bag_width: int, classes: int,
              config: TrainConfig, groups: np.ndarray | None = None, c: float | None = None) -> Head:
    """Multinomial logistic regression. With `groups`, each family gets its own intercept while fitting
    (so the shared weights learn what makes a prompt harder than its siblings, not which family it is
    from); serving uses the row-weighted mean of those intercepts."""
    from sklearn.linear_model import LogisticRegression

    width_all = x.shape[1]
    share = np.zeros(0)
    if groups is not None:
        onehot, share = _group_columns(groups)
        x = sparse.hstack([x, onehot], format="csr")
    model = LogisticRegression(C=config.c if c is None else c, max_iter=300, tol=1e-3, random_state=config.seed)
    model.fit(x, y, sample_weight=w)
    coef = np.zeros((classes, x.shape[1]))
    bias = np.full(classes, -30.0)  # a class absent from the training rows stays impossible
    if len(model.classes_) == 2:  # sklearn keeps one row for binary problems: logits (0, z)
        coef[model.classes_[1]] = model.coef_[0]
        bias[model.classes_] = [0.0, model.intercept_[0]]
    else:
        coef[model.classes_] = model.coef_
        bias[model.classes_] = model.intercept_
    if groups is not None:
        bias = bias + FIXED_EFFECT_SCALE * coef[:, width_all:] @ share
        coef = coef[:, :width_all]
    return Head(vocab_w=coef[:, :bag_width].T.copy(), dense_w=coef[:, bag_width:].T.copy(), bias=bias)


def _fit_task_head(feat: Featurized, x: sparse.csr_matrix, n_vocab: int, config: TrainConfig) -> Head:
    labelled = np.asarray([i for i, t in enumerate(feat.tasks) if t in LEARNED_TASKS], dtype=np.int64)
    task_y = np.asarray([LEARNED_TASKS.index(feat.tasks[i]) for i in labelled])
    return _fit_head(x[labelled], task_y, np.ones(len(labelled)), max(1, n_vocab), len(LEARNED_TASKS), config,
                     c=config.task_c)


def fit(feat: Featurized, config: TrainConfig, *, ordinal: Ordinal | None = None,
        with_task: bool = True) -> tuple[Weights, list[str]]:
    """Fit the difficulty head and the task head; `ordinal` (fitted on held-out logits) calibrates the first."""
    vocab = build_vocab(feat, config)
    mean = feat.dense.mean(axis=0)
    scale = np.where(feat.dense.std(axis=0) > 1e-9, feat.dense.std(axis=0), 1.0)
    x = design(feat, vocab, mean, scale)
    keep = np.nonzero(~feat.unsolved if config.drop_unsolved else np.ones(len(feat.tiers), dtype=bool))[0]
    x_tier = x if config.tier_sparse else x[:, max(1, len(vocab)):]
    two = _fit_head(x_tier[keep], (feat.tiers[keep] >= 1).astype(int),
                    balanced_weights(feat, config.group_balance)[keep], max(1, len(vocab)) if config.tier_sparse else 0,
                    2, config, groups=feat.groups[keep] if config.fixed_effects else None)
    # one difficulty logit: the log-odds of needing more than the cheap model
    vocab_w = two.vocab_w[:, 1:] - two.vocab_w[:, :1] if config.tier_sparse else np.zeros((max(1, len(vocab)), 1))
    tier = Head(vocab_w, two.dense_w[:, 1:] - two.dense_w[:, :1], two.bias[1:] - two.bias[:1])
    task = _fit_task_head(feat, x, len(vocab), config) if with_task else Head(
        np.zeros((len(vocab), len(LEARNED_TASKS))), np.zeros((x.shape[1] - max(1, len(vocab)), len(LEARNED_TASKS))),
        np.zeros(len(LEARNED_TASKS)))
    weights = Weights(vocab={k: i for i, k in enumerate(vocab)}, mean=mean, scale=scale, tier=tier,
                      ordinal=ordinal or Ordinal(1.0, 0.0, 1.0, -1.0, (1 / 3, 1 / 3, 1 / 3)), task=task,
                      tasks=LEARNED_TASKS)
    return weights, vocab


def logits_of(weights: Weights, feat: Featurized, vocab: list[str]) -> np.ndarray:
    """Difficulty logits for many rows at once (the same arithmetic as `Head.logits`)."""
    x = design(feat, vocab, weights.mean, weights.scale)
    coef = np.vstack([weights.tier.vocab_w[: max(1, len(vocab))], weights.tier.dense_w])
    out: np.ndarray = (x @ coef + weights.tier.bias)[:, 0]
    return out

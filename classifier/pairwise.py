"""Pairwise ranking heads: learn which of two prompts needs the stronger model more.

A logistic model without intercept on the difference of two rows' features (request embedding + log
prompt characters), label 1 when the first row's target is higher; pairs with equal targets carry no
order and are dropped. Two sets of pairs weigh half each (classifier/README.md, addendum of Dec 6):

- *within* pairs: both rows from one task family, the same number of draws per family and every family
  the same total weight. This is the within-family order that pointwise heads barely learn.
- *across* pairs: rows drawn over all rows by their (family-balanced) weights, from different families:
  the family-level signal ("MMLU-Pro engineering needs the stronger model more than ARC").

`gap=True` weights each pair by the difference of the two targets. The fitted order is linear in the
features, so it ships as a `scorer.Linear` with bias 0 (the calibration maps place it). Rows are drawn
with a seeded generator, so a fit is reproducible byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from classifier.scorer import Linear
from classifier.trainset import TrainSet

DRAWS = 3000  # pairs drawn per family, for each of the two sets
C = 0.05


def _gap(data: TrainSet, a: np.ndarray, b: np.ndarray, gap: bool) -> np.ndarray:
    return np.abs(data.target[a] - data.target[b]) if gap else np.ones(a.size)


def within_pairs(data: TrainSet, rng: np.random.Generator, *, gap: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first rows, second rows, per-pair weight) of pairs inside one family; each family sums to 1."""
    keep = data.weights > 0
    firsts, seconds, weights = [], [], []
    for family in sorted(set(data.groups[keep].tolist())):
        rows = np.nonzero(keep & (data.groups == family))[0]
        a, b = rng.choice(rows, DRAWS), rng.choice(rows, DRAWS)
        ordered = data.target[a] != data.target[b]
        a, b = a[ordered], b[ordered]
        w = data.weights[a] * data.weights[b] * _gap(data, a, b, gap)
        if a.size and w.sum() > 0:
            firsts.append(a)
            seconds.append(b)
            weights.append(w / w.sum())
    if not firsts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(weights)


def across_pairs(data: TrainSet, rng: np.random.Generator, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """(first rows, second rows) of pairs from different families, rows drawn by their weights."""
    rows = np.nonzero(data.weights > 0)[0]
    p = data.weights[rows] / data.weights[rows].sum()
    a, b = rng.choice(rows, draws, p=p), rng.choice(rows, draws, p=p)
    ordered = (data.groups[a] != data.groups[b]) & (data.target[a] != data.target[b])
    return a[ordered], b[ordered]


def _fit_order(diff: np.ndarray, label: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Logistic regression without intercept on standardised pair differences; coefficients on the raw scale."""
    from sklearn.linear_model import LogisticRegression

    scale = diff.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=C, fit_intercept=False, max_iter=500, tol=1e-4)
    model.fit(diff / scale, label, sample_weight=weight / weight.mean())
    coef: np.ndarray = model.coef_[0] / scale
    return coef


def pairwise(*, gap: bool = False, seed: int = 0) -> Callable[[TrainSet], Linear]:
    """The pairwise head's fit: within-family and across-family pairs, half the weight each."""
    def fit(data: TrainSet) -> Linear:
        rng = np.random.default_rng(seed)
        wa, wb, ww = within_pairs(data, rng, gap=gap)
        families = max(1, len(set(data.groups[data.weights > 0].tolist())))
        aa, ab = across_pairs(data, rng, DRAWS * families)
        aw = _gap(data, aa, ab, gap)
        a, b = np.concatenate([wa, aa]), np.concatenate([wb, ab])
        weight = np.concatenate([ww / max(ww.sum(), 1e-12), aw / max(aw.sum(), 1e-12)])  # half each
        features = np.hstack([data.vectors.astype(np.float64), data.log_chars[:, None]])
        label = (data.target[a] > data.target[b]).astype(np.int64)
        if a.size == 0 or len(set(label.tolist())) < 2:  # no ordered pair: no order to learn
            return Linear(w=np.zeros(data.vectors.shape[1]), w_len=0.0, bias=0.0)
        coef = _fit_order(features[a] - features[b], label, weight)
        return Linear(w=coef[:-1], w_len=float(coef[-1]), bias=0.0)
    return fit

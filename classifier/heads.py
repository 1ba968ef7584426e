"""The candidate heads compared under leave-one-family-out (see classifier/README.md for the rule).

Each candidate fits on a `TrainSet` and returns a scorer `(vectors, log_chars) -> value` (higher = the
cheaper model more likely not good enough). Servable candidates return a `scorer.Linear` or
`scorer.RankBlend` (or a `scorer.Relative`: fed relative length); kNN over the training rows is a
reference only (no kNN on the hot path).
scikit-learn is imported here, by the train and eval commands only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from classifier.factorisation import fit_factorisation
from classifier.pairwise import pairwise
from classifier.scorer import Centroids, Linear, RankBlend, Relative, quantile_grid
from classifier.trainset import TrainSet

Fitted = Callable[[np.ndarray, np.ndarray], np.ndarray]
FIXED_EFFECT_SCALE = 10.0
CENTROIDS = 64  # k-means centroids behind relative length (classifier/README.md, addendum of Dec 7)


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    fit: Callable[[TrainSet], Fitted]
    servable: bool
    parameters: Callable[[int], int]  # fitted parameters for an embedding of dimension d
    blend_of: str | None = None  # a rank blend of this candidate with the length prior
    challenger: bool = False  # added by the Dec 6 (or 7) addendum: replaces the incumbent only by that rule
    relative_prior: bool = False  # the blend's prior is relative length (the base must be a `Relative`)

    def fit_with(self, data: TrainSet, fitted: dict[str, Fitted]) -> Fitted:
        """Fit, reusing the base head already fitted on the same rows (`fitted`, filled as it goes)."""
        if self.name not in fitted:
            if self.blend_of is None:
                fitted[self.name] = self.fit(data)
            else:
                base = CANDIDATES[self.blend_of].fit_with(data, fitted)
                assert isinstance(base, Linear | Relative)
                fitted[self.name] = relative_rank_blend(base, data) if self.relative_prior else rank_blend(base, data)
        return fitted[self.name]


def _logistic(x: np.ndarray, target: np.ndarray, weights: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Weighted logistic regression on a soft target (each row once as 1 and once as 0); standardised inside."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    keep = weights > 0
    z2 = np.vstack([z[keep], z[keep]])
    y2 = np.concatenate([np.ones(keep.sum()), np.zeros(keep.sum())])
    w2 = np.concatenate([weights[keep] * target[keep], weights[keep] * (1 - target[keep])])
    model = LogisticRegression(C=c, max_iter=500, tol=1e-4).fit(z2, y2, sample_weight=w2 / w2.mean())
    coef = model.coef_[0] / scale
    return coef, float(model.intercept_[0] - coef @ mean)


def _features(data: TrainSet) -> np.ndarray:
    return np.hstack([data.vectors.astype(np.float64), data.log_chars[:, None]])


def logistic(c: float) -> Callable[[TrainSet], Fitted]:
    def fit(data: TrainSet) -> Fitted:
        coef, bias = _logistic(_features(data), data.target, data.weights, c)
        return Linear(w=coef[:-1], w_len=float(coef[-1]), bias=bias)
    return fit


def within_family_length_slope(data: TrainSet) -> float:
    """The slope of log length on the target with one intercept per family: length's order inside families."""
    names, codes = np.unique(data.groups, return_inverse=True)
    onehot = np.zeros((len(codes), len(names)))
    onehot[np.arange(len(codes)), codes] = FIXED_EFFECT_SCALE
    z_len = (data.log_chars - data.log_chars.mean()) / max(1e-9, float(data.log_chars.std()))
    coef, _ = _logistic(np.hstack([z_len[:, None], onehot]), data.target, data.weights, 1.0)
    # `_logistic` standardises: recover the slope on the raw log length
    return float(coef[0]) / max(1e-9, float(data.log_chars.std()))


def family_plus_length(components: int = 16, c: float = 0.05) -> Callable[[TrainSet], Fitted]:
    """A smooth, family-level embedding component (logistic on a k-d PCA, strongly regularised) plus a
    length term whose slope is fitted within families, so length keeps its ranking inside a family."""
    def fit(data: TrainSet) -> Fitted:
        x = data.vectors.astype(np.float64)
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        basis = vt[:components].T  # (d, k)
        coef, bias = _logistic((x - mean) @ basis, data.target, data.weights, c)
        w = basis @ coef
        return Linear(w=w, w_len=within_family_length_slope(data), bias=bias - float(mean @ w))
    return fit


def factorisation(data: TrainSet) -> Fitted:
    return fit_factorisation(data)


def knn(k: int = 50) -> Callable[[TrainSet], Fitted]:
    """Weighted mean target of the k most similar training rows (cosine)."""
    def fit(data: TrainSet) -> Fitted:
        keep = data.weights > 0
        train, target, weights = data.vectors[keep], data.target[keep], data.weights[keep]

        def score(vectors: np.ndarray, _log_chars: np.ndarray) -> np.ndarray:
            out = np.zeros(len(vectors))
            for start in range(0, len(vectors), 512):
                sims = vectors[start:start + 512] @ train.T
                top = np.argpartition(-sims, k, axis=1)[:, :k]
                w = weights[top]
                out[start:start + 512] = (w * target[top]).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-12)
            return out
        return score
    return fit


def rank_blend(head: Linear | Relative, data: TrainSet) -> RankBlend:
    """`head` rank-averaged with the length prior (CDFs from the training rows)."""
    return RankBlend(head=head, head_grid=quantile_grid(head(data.vectors, data.log_chars)),
                     length_grid=quantile_grid(data.log_chars))


def fit_centroids(data: TrainSet, k: int = CENTROIDS) -> Centroids:
    """k-means (seeded) on the fit's embeddings, and the mean log length of the rows nearest each centroid."""
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=1, random_state=0).fit(data.vectors)
    centres = model.cluster_centers_.astype(np.float64)
    nearest = Centroids(centroids=centres, mean_length=np.zeros(k)).nearest(data.vectors)
    counts = np.bincount(nearest, minlength=k)
    sums = np.bincount(nearest, weights=data.log_chars, minlength=k)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), float(data.log_chars.mean()))
    return Centroids(centroids=centres, mean_length=means)


def _relative(data: TrainSet, centroids: Centroids) -> TrainSet:
    return replace(data, log_chars=centroids.relative(data.vectors, data.log_chars))


def family_plus_relative_length(data: TrainSet) -> Relative:
    """The family PCA head with relative length in place of log length (slope fitted within families)."""
    centroids = fit_centroids(data)
    inner = family_plus_length()(_relative(data, centroids))
    assert isinstance(inner, Linear)
    return Relative(inner=inner, centroids=centroids)


def relative_rank_blend(head: Linear | Relative, data: TrainSet) -> Relative:
    """A `Relative` head rank-averaged with the prior of relative length (both CDFs over the training rows)."""
    assert isinstance(head, Relative) and isinstance(head.inner, Linear)
    return Relative(inner=rank_blend(head.inner, _relative(data, head.centroids)), centroids=head.centroids)


def blended(base: Callable[[TrainSet], Fitted]) -> Callable[[TrainSet], Fitted]:
    def fit(data: TrainSet) -> Fitted:
        head = base(data)
        assert isinstance(head, Linear | Relative)
        return rank_blend(head, data)
    return fit


PAIRWISE = "pairwise (family + within pairs, length)"
PAIRWISE_GAP = "pairwise gap-weighted"
RELATIVE = "family PCA-16 + within-family relative length"


def _linear_params(d: int) -> int:
    return d + 2


def _relative_params(d: int) -> int:
    return 16 * d + 18 + CENTROIDS * (d + 1)


CANDIDATES: dict[str, Candidate] = {c.name: c for c in (
    Candidate("kNN k=50 (reference)", knn(50), False, lambda d: 0),
    Candidate("logistic C=1", logistic(1.0), True, _linear_params),
    Candidate("logistic C=0.05", logistic(0.05), True, _linear_params),
    Candidate("family PCA-16 + within-family length", family_plus_length(), True, lambda d: 16 * d + 18),
    Candidate("factorisation 16-d", factorisation, True, lambda d: 16 * d + 64),
    Candidate("rank(logistic C=1, length)", blended(logistic(1.0)), True, _linear_params, "logistic C=1"),
    Candidate("rank(logistic C=0.05, length)", blended(logistic(0.05)), True, _linear_params, "logistic C=0.05"),
    Candidate("rank(family + length, length)", blended(family_plus_length()), True, lambda d: 16 * d + 18,
              "family PCA-16 + within-family length"),
    Candidate("rank(factorisation, length)", blended(factorisation), True, lambda d: 16 * d + 64,
              "factorisation 16-d"),
    Candidate(PAIRWISE, pairwise(), True, _linear_params, challenger=True),
    Candidate(PAIRWISE_GAP, pairwise(gap=True), True, _linear_params, challenger=True),
    Candidate("rank(pairwise, length)", blended(pairwise()), True, _linear_params, PAIRWISE, challenger=True),
    Candidate("rank(pairwise gap-weighted, length)", blended(pairwise(gap=True)), True, _linear_params,
              PAIRWISE_GAP, challenger=True),
    Candidate(RELATIVE, family_plus_relative_length, True, _relative_params, challenger=True),
    Candidate("rank(family + relative length, length)", blended(family_plus_relative_length), True,
              _relative_params, RELATIVE, challenger=True),
    Candidate("rank(family + relative length, relative length)",
              lambda data: relative_rank_blend(family_plus_relative_length(data), data), True, _relative_params,
              RELATIVE, challenger=True, relative_prior=True),
)}

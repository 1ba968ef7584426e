"""The servable score: a linear function of the request embedding and log prompt length, optionally
rank-averaged with the length prior. numpy only; a few microseconds per request.

`Linear`: f = vector . w + w_len * log1p(chars) + bias (every servable candidate reduces to this: a
logistic head, a PCA head plus a length term, the mean logit of a factorisation over pairs).
`RankBlend`: the head's and the length's positions among the training rows (empirical CDFs stored as
quantile grids), averaged, returned as a logit so the calibration maps apply unchanged.
`Relative`: a scorer fed *relative* length instead of log length: log1p(chars) minus the mean log length
of the training rows nearest the same one of a few k-means centroids (`Centroids`; one small product).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

GRID = 257  # quantiles stored per CDF


def quantile_grid(values: np.ndarray) -> np.ndarray:
    grid: np.ndarray = np.quantile(values, np.linspace(0.0, 1.0, GRID))
    return grid


def cdf(grid: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """Share of the training rows below x (linear between the stored quantiles)."""
    out: np.ndarray = np.asarray(np.interp(x, grid, np.linspace(0.0, 1.0, len(grid))))
    return out


def interp(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """`float(np.interp(x, xs, ys))` for one x, to the last bit, without numpy's per-call overhead
    (numpy's rule: the last grid point at or below x, its value when x is on it, else the slope to the next)."""
    if x < xs[0]:
        return ys[0]
    if x > xs[-1]:
        return ys[-1]
    j = bisect_right(xs, x) - 1
    if j == len(xs) - 1 or xs[j] == x:
        return ys[j]
    slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
    out = slope * (x - xs[j]) + ys[j]
    if math.isnan(out):  # numpy's fallback: from the other end, then the flat value
        out = slope * (x - xs[j + 1]) + ys[j + 1]
        if math.isnan(out) and ys[j] == ys[j + 1]:
            out = ys[j]
    return out


def logit(p: np.ndarray | float) -> np.ndarray:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    out: np.ndarray = np.log(q / (1 - q))
    return out


@dataclass(frozen=True, slots=True)
class Linear:
    w: np.ndarray  # (d,) on the L2-normalised request embedding
    w_len: float  # on log1p(prompt characters)
    bias: float

    def __call__(self, vectors: np.ndarray, log_chars: np.ndarray) -> np.ndarray:
        out: np.ndarray = vectors @ self.w + self.w_len * log_chars + self.bias
        return out

    def one(self, vector: np.ndarray, log_chars: float) -> float:
        return float(vector @ self.w) + self.w_len * log_chars + self.bias


@dataclass(frozen=True, slots=True)
class Centroids:
    """k-means centroids of the training embeddings and the mean log length of the rows nearest each."""

    centroids: np.ndarray  # (K, d)
    mean_length: np.ndarray  # (K,) mean log1p(chars) of the training rows nearest each centroid
    _half_norm: np.ndarray = field(init=False, repr=False, compare=False)
    _means: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_half_norm", (self.centroids * self.centroids).sum(axis=1) / 2)
        object.__setattr__(self, "_means", tuple(self.mean_length.tolist()))

    def nearest(self, vectors: np.ndarray) -> np.ndarray:
        """Index of the nearest centroid (Euclidean) of each row."""
        out: np.ndarray = np.argmax(vectors @ self.centroids.T - self._half_norm, axis=1)
        return out

    def relative(self, vectors: np.ndarray, log_chars: np.ndarray) -> np.ndarray:
        out: np.ndarray = log_chars - self.mean_length[self.nearest(vectors)]
        return out

    def relative_one(self, vector: np.ndarray, log_chars: float) -> float:
        return log_chars - self._means[int(np.argmax(self.centroids @ vector - self._half_norm))]


@dataclass(frozen=True, slots=True)
class Relative:
    """`inner` scored on relative length (log1p(chars) minus its nearest centroid's mean) for log length."""

    inner: Linear | RankBlend
    centroids: Centroids

    def __call__(self, vectors: np.ndarray, log_chars: np.ndarray) -> np.ndarray:
        return self.inner(vectors, self.centroids.relative(vectors, log_chars))

    def one(self, vector: np.ndarray, log_chars: float) -> float:
        return self.inner.one(vector, self.centroids.relative_one(vector, log_chars))


@dataclass(frozen=True, slots=True)
class RankBlend:
    head: Linear | Relative
    head_grid: np.ndarray  # quantiles of the head's value on the training rows
    length_grid: np.ndarray  # quantiles of log1p(chars) on the training rows
    _grids: tuple[tuple[float, ...], tuple[float, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # the grids as Python floats, for `one`
        object.__setattr__(self, "_grids", (tuple(self.head_grid.tolist()), tuple(self.length_grid.tolist())))

    def __call__(self, vectors: np.ndarray, log_chars: np.ndarray) -> np.ndarray:
        return logit((cdf(self.head_grid, self.head(vectors, log_chars)) + cdf(self.length_grid, log_chars)) / 2)

    def one(self, vector: np.ndarray, log_chars: float) -> float:
        head_grid, length_grid = self._grids
        u = interp(self.head.one(vector, log_chars), head_grid, LEVELS)
        r = interp(log_chars, length_grid, LEVELS)
        p = min(1 - 1e-4, max(1e-4, (u + r) / 2))
        return math.log(p / (1 - p))


LEVELS = tuple(np.linspace(0.0, 1.0, GRID).tolist())
"""The CDF's value at each stored quantile."""

Scorer = Linear | RankBlend | Relative

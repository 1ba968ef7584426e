"""The servable score: a linear function of the request embedding and log prompt length, optionally
rank-averaged with the length prior. numpy only; a few microseconds per request.

`Linear`: f = vector . w + w_len * log1p(chars) + bias (every servable candidate reduces to this: a
logistic head, a PCA head plus a length term, the mean logit of a factorisation over pairs).
`RankBlend`: the head's and the length's positions among the training rows (empirical CDFs stored as
quantile grids), averaged, returned as a logit so the calibration maps apply unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GRID = 257  # quantiles stored per CDF


def quantile_grid(values: np.ndarray) -> np.ndarray:
    grid: np.ndarray = np.quantile(values, np.linspace(0.0, 1.0, GRID))
    return grid


def cdf(grid: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """Share of the training rows below x (linear between the stored quantiles)."""
    out: np.ndarray = np.asarray(np.interp(x, grid, np.linspace(0.0, 1.0, len(grid))))
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
class RankBlend:
    head: Linear
    head_grid: np.ndarray  # quantiles of the head's value on the training rows
    length_grid: np.ndarray  # quantiles of log1p(chars) on the training rows

    def __call__(self, vectors: np.ndarray, log_chars: np.ndarray) -> np.ndarray:
        return logit((cdf(self.head_grid, self.head(vectors, log_chars)) + cdf(self.length_grid, log_chars)) / 2)

    def one(self, vector: np.ndarray, log_chars: float) -> float:
        u = float(np.interp(self.head.one(vector, log_chars), self.head_grid, _LEVELS))
        r = float(np.interp(log_chars, self.length_grid, _LEVELS))
        p = min(1 - 1e-4, max(1e-4, (u + r) / 2))
        return math.log(p / (1 - p))


_LEVELS = np.linspace(0.0, 1.0, GRID)

Scorer = Linear | RankBlend

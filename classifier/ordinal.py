"""From one difficulty logit to calibrated tier probabilities, a score and a tier (numpy only).

The tier head gives one logit f per request (higher = more likely to need more than the cheap
model). Two Platt maps fitted on *held-out* logits of outcome-labelled rows (weak labels do not set the
scale) turn it into P(tier >= 2) and P(tier >= 3); both increase with f, so the score P(tier >= 2)
keeps the head's ranking exactly (the cost/quality sweep is over that ranking). The tier is the class
most over-represented relative to its prior (argmax p_k / prior_k): with a 74% tier-1 base rate, a
plain argmax would almost never say 2 or 3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MIN_SLOPE = 0.05  # calibration keeps the ranking of the difficulty head, even where it cannot confirm it


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@dataclass(frozen=True, slots=True)
class Ordinal:
    a2: float
    b2: float
    a3: float
    b3: float
    prior: tuple[float, float, float]

    def probabilities(self, f: float) -> tuple[float, float, float]:
        up2 = _sigmoid(self.a2 * f + self.b2)
        up3 = min(up2, _sigmoid(self.a3 * f + self.b3))
        return (1.0 - up2, up2 - up3, up3)

    def probabilities_many(self, f: np.ndarray) -> np.ndarray:
        up2 = 1.0 / (1.0 + np.exp(-(self.a2 * f + self.b2)))
        up3 = np.minimum(up2, 1.0 / (1.0 + np.exp(-(self.a3 * f + self.b3))))
        out: np.ndarray = np.stack([1.0 - up2, up2 - up3, up3], axis=1)
        return out

    def tier(self, probs: tuple[float, float, float]) -> int:
        """1, 2 or 3: the tier whose probability most exceeds its prior."""
        ratios = [p / max(q, 1e-9) for p, q in zip(probs, self.prior, strict=True)]
        return 1 + ratios.index(max(ratios))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ordinal:
        prior = tuple(float(p) for p in data["prior"])
        if len(prior) != 3:
            raise ValueError("ordinal calibration needs three priors")
        return cls(a2=float(data["a2"]), b2=float(data["b2"]), a3=float(data["a3"]), b3=float(data["b3"]),
                   prior=(prior[0], prior[1], prior[2]))


def _intercept_for(offset: np.ndarray, target: np.ndarray, w: np.ndarray) -> float:
    """The b maximising the weighted likelihood of sigmoid(offset + b) (bisection on the score equation)."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        p = 1.0 / (1.0 + np.exp(-(offset + mid)))
        if float(np.sum(w * (target - p))) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def fit_ordinal(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> Ordinal:
    """Platt maps for P(tier >= 2) and P(tier >= 3) on held-out logits `f` (y is the 0-based tier)."""
    from sklearn.linear_model import LogisticRegression

    def platt(target: np.ndarray) -> tuple[float, float]:
        rate = float(np.average(target, weights=w))
        if rate in (0.0, 1.0):
            return 0.0, math.log(max(rate, 1e-6) / max(1 - rate, 1e-6))
        model = LogisticRegression(C=1e4, max_iter=1000).fit(f.reshape(-1, 1), target, sample_weight=w)
        slope = float(model.coef_[0, 0])
        if slope < MIN_SLOPE:  # never flatten or invert the head's ranking: refit the intercept alone
            return MIN_SLOPE, _intercept_for(f * MIN_SLOPE, target, w)
        return slope, float(model.intercept_[0])

    a2, b2 = platt((y >= 1).astype(int))
    a3, b3 = platt((y >= 2).astype(int))
    counts = np.bincount(y, weights=w, minlength=3)[:3]
    prior = counts / counts.sum()
    return Ordinal(a2=a2, b2=b2, a3=a3, b3=b3, prior=(float(prior[0]), float(prior[1]), float(prior[2])))

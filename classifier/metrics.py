"""Held-out metrics: per-tier precision/recall, macro-F1, calibration error, and the routing curve.

The routing curve follows the RouteLLM protocol: rank prompts by score, send the top share to the
strong model and the rest to the cheap one, and integrate quality over the strong share from 0 to 1.
APGR = (AUC - AUC_cheap) / (AUC_strong - AUC_cheap). Tied scores count as a random order within the
tie (the expected curve), so constant routers get exactly the random curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class TierReport:
    precision: tuple[float, float, float]
    recall: tuple[float, float, float]
    support: tuple[int, int, int]
    macro_f1: float
    accuracy: float
    ece: float  # top-label expected calibration error of the probabilities, 10 equal-width bins
    score_ece: float  # calibration of score = P(tier >= 2) against the binary outcome


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(float(confidence[mask].mean()) - float(correct[mask].mean()))
    return total / max(1, len(confidence))


def tier_report(probs: np.ndarray, y: np.ndarray, prior: tuple[float, float, float] = (1.0, 1.0, 1.0)
                ) -> TierReport:
    """Metrics of (n, 3) probabilities against 0-based tiers `y`; the predicted tier is argmax p / prior."""
    pred = (probs / np.maximum(np.asarray(prior), 1e-9)).argmax(axis=1)
    precision, recall, f1, support = [], [], [], []
    for k in range(3):
        tp = float(((pred == k) & (y == k)).sum())
        p = tp / max(1, int((pred == k).sum()))
        r = tp / max(1, int((y == k).sum()))
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
        support.append(int((y == k).sum()))
    score = probs[:, 1] + probs[:, 2]
    return TierReport(
        precision=(precision[0], precision[1], precision[2]), recall=(recall[0], recall[1], recall[2]),
        support=(support[0], support[1], support[2]), macro_f1=float(np.mean(f1)),
        accuracy=float((pred == y).mean()),
        ece=expected_calibration_error(probs.max(axis=1), probs.argmax(axis=1) == y),
        score_ece=expected_calibration_error(score, (y >= 1).astype(np.float64)),
    )


@dataclass(frozen=True, slots=True)
class Curve:
    share: np.ndarray  # share of calls sent to the strong model, 0..1
    quality: np.ndarray  # mean quality at that share
    cost: np.ndarray  # total USD at that share


@dataclass(frozen=True, slots=True)
class RoutingReport:
    apgr: float
    share_for_half_gap: float  # strong share needed to recover 50% of the quality gap (RouteLLM's CPT(50%))
    cost_saved_at_95: float  # 1 - cost / always-strong cost, at the cheapest point with >= 95% strong quality
    quality_cheap: float
    quality_strong: float


def _tie_mean(values: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Replace each value by the mean over its block of equal scores (input sorted by score)."""
    out = values.astype(np.float64).copy()
    start = 0
    for end in range(1, len(scores) + 1):
        if end == len(scores) or scores[end] != scores[start]:
            out[start:end] = values[start:end].mean()
            start = end
    return out


def routing_curve(score: np.ndarray, q_cheap: np.ndarray, q_strong: np.ndarray, c_cheap: np.ndarray,
                  c_strong: np.ndarray) -> Curve:
    order = np.argsort(-score, kind="stable")
    s = score[order]
    gain = _tie_mean((q_strong - q_cheap)[order], s)
    extra = _tie_mean((c_strong - c_cheap)[order], s)
    n = len(score)
    quality = (q_cheap.sum() + np.concatenate([[0.0], np.cumsum(gain)])) / n
    cost = c_cheap.sum() + np.concatenate([[0.0], np.cumsum(extra)])
    return Curve(share=np.arange(n + 1) / n, quality=quality, cost=cost)


def routing_report(curve: Curve) -> RoutingReport:
    q_cheap, q_strong = float(curve.quality[0]), float(curve.quality[-1])
    gap = q_strong - q_cheap
    auc = float(np.sum((curve.quality[1:] + curve.quality[:-1]) / 2 * np.diff(curve.share)))
    apgr = (auc - q_cheap) / gap if gap > 0 else float("nan")
    half = np.nonzero(curve.quality >= q_cheap + 0.5 * gap)[0]
    ok = np.nonzero(curve.quality >= 0.95 * q_strong)[0]
    saved = 1.0 - float(curve.cost[ok].min()) / float(curve.cost[-1]) if ok.size else 0.0
    return RoutingReport(apgr=apgr, share_for_half_gap=float(curve.share[half[0]]) if half.size else 1.0,
                         cost_saved_at_95=saved, quality_cheap=q_cheap, quality_strong=q_strong)

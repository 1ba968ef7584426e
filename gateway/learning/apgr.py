"""APGR (RouteLLM's average performance gap recovered) of a score on outcome rows, and over time.

Sweep the share of prompts sent to the stronger model from 0 to 1, highest scores first; at each
share the quality is the mean outcome of the model each prompt went to. PGR is how much of the gap
between all-cheap and all-strong quality that recovers; APGR is its area over the sweep (random
routing scores about 0.5, a perfect router near 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gateway.learning.rows import OutcomeRow

Array = npt.NDArray[np.float64]


def apgr(scores: Array | Sequence[float], cheap: Array | Sequence[float], strong: Array | Sequence[float]) -> float:
    """Scores rank prompts by need of the stronger model; ties are ordered by the prompt's index."""
    s = np.asarray(scores, dtype=np.float64)
    weak, good = np.asarray(cheap, dtype=np.float64), np.asarray(strong, dtype=np.float64)
    n = s.size
    if n == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    gains = np.concatenate([[0.0], np.cumsum((good - weak)[order])])
    quality = (weak.sum() + gains) / n
    q_weak, q_strong = weak.mean(), good.mean()
    if q_strong <= q_weak:
        return float("nan")
    pgr = (quality - q_weak) / (q_strong - q_weak)
    return float(((pgr[1:] + pgr[:-1]) / 2).mean())


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    rows: int
    apgr_router: float
    apgr_cold: float


def rows_with_both(rows: Sequence[OutcomeRow]) -> list[OutcomeRow]:
    """Rows that score both models of their ladder (APGR needs both outcomes)."""
    return [r for r in rows if r.ladder.cheap in r.outcomes and r.ladder.strong in r.outcomes]


def over_time(rows: Sequence[OutcomeRow], *, windows: int) -> list[Window]:
    """APGR of the score the router used (`predicted`) and of the cold start (`prior`), per time window
    of equal row counts (oldest first)."""
    usable = sorted(rows_with_both(rows), key=lambda r: r.at)
    if not usable:
        return []
    out = []
    for chunk in np.array_split(np.arange(len(usable)), max(1, min(windows, len(usable)))):
        part = [usable[i] for i in chunk]
        cheap = [r.outcomes[r.ladder.cheap] for r in part]
        strong = [r.outcomes[r.ladder.strong] for r in part]
        out.append(Window(part[0].at, part[-1].at, len(part), apgr([r.predicted for r in part], cheap, strong),
                          apgr([r.prior for r in part], cheap, strong)))
    return out

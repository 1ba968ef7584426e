"""Leave-one-family-out evaluation of the candidate heads, and the selection rule.

Every task family (arc, mbpp, math, crux, mmlupro-stemez, ...) is held out alone and scored by each
candidate fitted on all the other families (`folds=k > 0` deals the families into k folds instead), so
no family is ever in training and test at once. Routing is judged RouteLLM's way along each row's
primary pair (cheap and strong ends of its source's ladder): APGR over the strong share, ties as a
random order. The selection rule (classifier/README.md, written before the figures): the servable
candidate with the highest mean per-family APGR ships, if it beats the length rule pooled; within
0.005 of the best, fewer parameters win. The pairwise heads added on Dec 6 and the relative-length heads
added on Dec 7 are challengers: one ships only with a strictly higher mean per family than that choice
(the Dec 6 addendum's rule).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifier.heads import CANDIDATES, Fitted
from classifier.metrics import Curve, TierReport, routing_curve, routing_report, tier_report
from classifier.ordinal import Ordinal, fit_ordinal
from classifier.progress import progress
from classifier.trainset import TrainSet

LENGTH = "prompt length"
RANDOM = "random"
POOLED = "pooled (all judged rows)"
TIE = 0.005


@dataclass(frozen=True, slots=True)
class EvalReport:
    candidates: tuple[str, ...]
    values: dict[str, np.ndarray]  # candidate -> held-out value per row
    apgr: dict[str, dict[str, float]]  # family or POOLED -> router -> APGR
    rows: dict[str, int]  # family or POOLED -> judged rows
    noise: dict[str, tuple[float, float]]  # family or POOLED -> 95% band of APGR over random orders
    curves: dict[str, Curve]  # router -> pooled cost/quality curve
    chosen: str
    tiers: TierReport  # the chosen head's calibrated tiers on held-out outcome rows
    ordinal: Ordinal  # calibration maps fitted on every held-out outcome-labelled row

    def mean_apgr(self, router: str) -> float:
        return float(np.mean([row[router] for family, row in self.apgr.items() if family != POOLED]))


def family_folds(groups: np.ndarray, k: int) -> list[set[str]]:
    """Task families dealt into `k` folds, largest first, each to the currently smallest fold."""
    sizes = Counter(groups.tolist())
    folds: list[set[str]] = [set() for _ in range(min(k, len(sizes)))]
    load = [0] * len(folds)
    for family, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        smallest = load.index(min(load))
        folds[smallest].add(family)
        load[smallest] += size
    return folds


def held_out_units(groups: np.ndarray, folds: int = 0) -> list[set[str]]:
    """The sets of task families held out together: each family alone (`folds=0`) or k dealt folds."""
    if folds < 0:
        raise ValueError(f"folds must be 0 (leave one family out) or a positive fold count, not {folds}")
    if folds == 0:
        return [{family} for family in sorted(set(groups.tolist()))]
    return family_folds(groups, folds)


def protocol(folds: int) -> str:
    """How the rows were held out, for reports: 'leave-one-family-out' or 'grouped k-fold'."""
    return "leave-one-family-out" if folds == 0 else f"grouped {folds}-fold"


def held_out_masks(groups: np.ndarray, folds: int = 0) -> list[np.ndarray]:
    """One boolean row mask per held-out unit: a unit's model is fitted on `~mask`, scores `mask`."""
    return [np.isin(groups, list(families)) for families in held_out_units(groups, folds)]


def held_out_values(data: TrainSet, names: Sequence[str], *, folds: int = 0,
                    show_progress: bool = True) -> dict[str, np.ndarray]:
    """Each candidate's value for every row, from a fit that never saw the row's family."""
    values = {name: np.zeros(len(data.target)) for name in names}
    masks = held_out_masks(data.groups, folds)
    items = progress(masks, total=len(masks), label="held-out families") if show_progress else masks
    for mask in items:
        train, test = data.take(np.nonzero(~mask)[0]), data.take(np.nonzero(mask)[0])
        fitted: dict[str, Fitted] = {}
        for name in names:
            values[name][mask] = CANDIDATES[name].fit_with(train, fitted)(test.vectors, test.log_chars)
    return values


def _apgr(score: np.ndarray, data: TrainSet, rows: np.ndarray) -> tuple[float, Curve]:
    ones = np.ones(int(rows.sum()))
    curve = routing_curve(score[rows], data.q_cheap[rows], data.q_strong[rows], ones, ones)
    return routing_report(curve).apgr, curve


def _noise(data: TrainSet, rows: np.ndarray, shuffles: int = 200) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    apgr = [_apgr(rng.random(len(data.target)), data, rows)[0] for _ in range(shuffles)]
    return float(np.quantile(apgr, 0.025)), float(np.quantile(apgr, 0.975))


def _best(apgr: dict[str, dict[str, float]], candidates: Sequence[str], floor: float) -> str | None:
    """The servable candidate with the best mean per-family APGR above `floor` among those that beat
    length pooled; within TIE of the best, the fewest parameters. None if there is none."""
    families = [f for f in apgr if f != POOLED]
    mean = {c: float(np.mean([apgr[f][c] for f in families])) for c in candidates
            if CANDIDATES[c].servable and apgr[POOLED][c] > apgr[POOLED][LENGTH]}
    mean = {c: m for c, m in mean.items() if m > floor}
    if not mean:
        return None
    best = max(mean.values())
    close = [c for c in mean if mean[c] >= best - TIE]
    return min(close, key=lambda c: (CANDIDATES[c].parameters(256), -mean[c]))


def choose(apgr: dict[str, dict[str, float]], candidates: Sequence[str]) -> str:
    """The selection rule (classifier/README.md): the incumbent is the best mean per-family APGR among the
    original servable heads that beat length pooled (within TIE of the best, the fewest parameters; the
    length rule itself if none does). A challenger (Dec 6 addendum) replaces it only with a strictly
    higher mean per family, and also beating length pooled; the best such challenger by the same rule."""
    incumbent = _best(apgr, [c for c in candidates if not CANDIDATES[c].challenger], float("-inf")) or LENGTH
    floor = float(np.mean([row[incumbent] for f, row in apgr.items() if f != POOLED]))
    return _best(apgr, [c for c in candidates if CANDIDATES[c].challenger], floor) or incumbent


def calibrated(values: np.ndarray, data: TrainSet, folds: int) -> tuple[np.ndarray, Ordinal]:
    """Tier probabilities of each held-out unit from maps fitted on the other units' outcome rows."""
    probs = np.zeros((len(values), 3))
    for mask in held_out_masks(data.groups, folds):
        use = ~mask & data.outcome
        probs[mask] = fit_ordinal(values[use], data.tiers[use], data.weights[use]).probabilities_many(values[mask])
    use = data.outcome
    return probs, fit_ordinal(values[use], data.tiers[use], data.weights[use])


def evaluate(data: TrainSet, names: Sequence[str] | None = None, *, folds: int = 0,
             show_progress: bool = True) -> EvalReport:
    names = tuple(names or CANDIDATES)
    values = held_out_values(data, names, folds=folds, show_progress=show_progress)
    values[LENGTH] = data.log_chars.copy()
    values[RANDOM] = np.zeros(len(data.target))
    judged = data.judged
    units = {f: judged & (data.groups == f) for f in sorted(set(data.groups[judged].tolist()))}
    # a family where the stronger model is not better on average has no routing gap to recover
    units = {f: rows for f, rows in units.items() if float(np.mean(data.q_strong[rows] - data.q_cheap[rows])) > 0}
    units[POOLED] = judged
    apgr: dict[str, dict[str, float]] = {}
    curves: dict[str, Curve] = {}
    for unit, rows in units.items():
        apgr[unit] = {}
        for router, value in values.items():
            apgr[unit][router], curve = _apgr(value, data, rows)
            if unit == POOLED:
                curves[router] = curve
    chosen = choose(apgr, names)
    probs, ordinal = calibrated(values[chosen], data, folds)
    outcome = data.outcome
    return EvalReport(candidates=names, values=values, apgr=apgr, rows={u: int(r.sum()) for u, r in units.items()},
                      noise={u: _noise(data, r) for u, r in units.items()}, curves=curves, chosen=chosen,
                      tiers=tier_report(probs[outcome], data.tiers[outcome], ordinal.prior), ordinal=ordinal)

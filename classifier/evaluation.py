"""Grouped held-out evaluation: every task family is scored by a model that never saw it.

By default every task family (arc, mbpp, winogrande, math, ...) is held out alone and scored by a
model fitted on all the other families (leave-one-family-out: deterministic, and each held-out model
is the shipped one minus that family). With `folds=k > 0` the families are dealt into k folds instead.
Either way no family is ever seen in training and in test, and the calibration map applied to a
held-out unit's logits is fitted on the held-out logits of the *other* units' outcome-labelled rows, so
calibration is measured on unseen families too (weak labels never set it: see `calibrate`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifier.baselines import BASELINES
from classifier.conversation import parse
from classifier.dataset import Example
from classifier.metrics import Curve, RoutingReport, TierReport, routing_curve, routing_report, tier_report
from classifier.ordinal import Ordinal, fit_ordinal
from classifier.progress import progress
from classifier.sources import ROUTERBENCH_LADDER
from classifier.training import Featurized, TrainConfig, fit, logits_of, subset

CHEAP, STRONG = ROUTERBENCH_LADDER[0], ROUTERBENCH_LADDER[2]
CLASSIFIER = "turnout classifier"


@dataclass(frozen=True, slots=True)
class HeldOut:
    logits: np.ndarray  # (n,) raw held-out difficulty logits
    probs: np.ndarray  # (n, 3) calibrated by maps fitted on the other units' outcome-labelled rows only
    ordinal: Ordinal  # fitted on the held-out logits of all outcome-labelled rows (the one the shipped model uses)


@dataclass(frozen=True, slots=True)
class RoutingRow:
    router: str
    report: RoutingReport
    curve: Curve


@dataclass(frozen=True, slots=True)
class EvalReport:
    tiers: TierReport  # outcome-labelled rows only
    tiers_all: TierReport  # including the weak difficulty labels
    routing: dict[str, list[RoutingRow]]  # held-out family (or "all") -> rows
    noise: dict[str, tuple[float, float]]  # held-out family -> 95% range of APGR over random orders


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


def held_out(feat: Featurized, config: TrainConfig, *, folds: int = 0, show_progress: bool = True) -> HeldOut:
    """Logits for every row from a model fitted without the row's task family (see `held_out_units`)."""
    logits = np.zeros(len(feat.tiers))
    masks = held_out_masks(feat.groups, folds)
    items = progress(masks, total=len(masks), label="held-out families") if show_progress else masks
    for mask in items:
        weights, vocab = fit(subset(feat, np.nonzero(~mask)[0]), config, with_task=False)
        logits[mask] = logits_of(weights, subset(feat, np.nonzero(mask)[0]), vocab)
    probs = np.zeros((len(logits), 3))
    for mask in masks:
        probs[mask] = calibrate(logits, feat, ~mask).probabilities_many(logits[mask])
    return HeldOut(logits=logits, probs=probs, ordinal=calibrate(logits, feat, np.ones(len(logits), dtype=bool)))


def calibrate(logits: np.ndarray, feat: Featurized, rows: np.ndarray) -> Ordinal:
    """The ordinal maps fitted on the outcome-labelled rows among `rows`: weak labels are not outcomes along
    a price ladder, so they may train the difficulty head but do not set the probability scale or the prior."""
    use = rows & feat.outcome
    if not use.any():
        raise ValueError("calibration needs outcome-labelled rows (every row here is a weak label)")
    return fit_ordinal(logits[use], feat.tiers[use], feat.weights[use])


def _routing_rows(examples: Sequence[Example], score: np.ndarray) -> list[RoutingRow]:
    q_cheap = np.asarray([e.outcomes.get(CHEAP, 0.0) for e in examples])
    q_strong = np.asarray([e.outcomes.get(STRONG, 0.0) for e in examples])
    c_cheap = np.asarray([e.costs[CHEAP] for e in examples])
    c_strong = np.asarray([e.costs[STRONG] for e in examples])

    def row(name: str, s: np.ndarray) -> RoutingRow:
        curve = routing_curve(s, q_cheap, q_strong, c_cheap, c_strong)
        return RoutingRow(name, routing_report(curve), curve)

    convs = [parse(e.messages, e.tools, e.response_format) for e in examples]
    rows = [row(CLASSIFIER, score), row("random (equal cost)", np.zeros(len(examples)))]
    rows += [row(name, np.asarray([scorer(c) for c in convs])) for name, scorer in BASELINES.items()]
    return rows


def _noise(examples: Sequence[Example], shuffles: int = 200) -> tuple[float, float]:
    """The 2.5% and 97.5% quantiles of APGR over random orders: differences inside this band are noise."""
    rng = np.random.default_rng(0)
    q_cheap = np.asarray([e.outcomes.get(CHEAP, 0.0) for e in examples])
    q_strong = np.asarray([e.outcomes.get(STRONG, 0.0) for e in examples])
    costs = np.ones(len(examples))
    apgr = [routing_report(routing_curve(rng.random(len(examples)), q_cheap, q_strong, costs, costs)).apgr
            for _ in range(shuffles)]
    return float(np.quantile(apgr, 0.025)), float(np.quantile(apgr, 0.975))


def evaluate(examples: Sequence[Example], feat: Featurized, out: HeldOut) -> EvalReport:
    score = out.probs[:, 1] + out.probs[:, 2]
    priced = [i for i, e in enumerate(examples) if CHEAP in e.costs and STRONG in e.costs
              and CHEAP in e.outcomes and STRONG in e.outcomes]
    routing: dict[str, list[RoutingRow]] = {}
    noise: dict[str, tuple[float, float]] = {}
    for group in sorted({examples[i].group for i in priced}):
        index = [i for i in priced if examples[i].group == group]
        routing[group] = _routing_rows([examples[i] for i in index], score[index])
        noise[group] = _noise([examples[i] for i in index])
    if priced:
        routing["all priced rows"] = _routing_rows([examples[i] for i in priced], score[priced])
        noise["all priced rows"] = _noise([examples[i] for i in priced])
    prior = out.ordinal.prior
    return EvalReport(tiers=tier_report(out.probs[feat.outcome], feat.tiers[feat.outcome], prior),
                      tiers_all=tier_report(out.probs, feat.tiers, prior), routing=routing, noise=noise)


def render(report: EvalReport) -> str:
    """The eval report as Markdown tables."""
    lines = ["### Tiers on held-out families (outcome-labelled rows)", "",
             "| tier | precision | recall | support |", "|---|---|---|---|"]
    t = report.tiers
    lines += [f"| {k + 1} | {t.precision[k]:.3f} | {t.recall[k]:.3f} | {t.support[k]} |" for k in range(3)]
    lines += ["", f"macro-F1 {t.macro_f1:.3f}, accuracy {t.accuracy:.3f}, top-label ECE {t.ece:.3f}, "
              f"score ECE {t.score_ece:.3f}; with weak labels: macro-F1 {report.tiers_all.macro_f1:.3f}, "
              f"ECE {report.tiers_all.ece:.3f}", ""]
    for group, rows in report.routing.items():
        first, curve = rows[0].report, rows[0].curve
        lines += [f"### Routing on held-out `{group}` (RouterBench prices: always cheap {CHEAP} quality "
                  f"{first.quality_cheap:.3f} for ${curve.cost[0]:.3f}, always strong {STRONG} quality "
                  f"{first.quality_strong:.3f} for ${curve.cost[-1]:.3f})", "",
                  "| router | APGR | strong share for 50% of gap | cost saved at 95% strong quality |",
                  "|---|---|---|---|", "| always cheap | 0.000 | - | - |", "| always strong | 1.000 | 1.000 | 0.0% |"]
        lines += [f"| {r.router} | {r.report.apgr:.3f} | {r.report.share_for_half_gap:.3f} | "
                  f"{100 * r.report.cost_saved_at_95:.1f}% |" for r in rows]
        if group in report.noise:
            low, high = report.noise[group]
            lines += ["", f"APGR of random orders of these rows: 95% between {low:.3f} and {high:.3f}."]
        lines += ["", *_curve_table(rows), ""]
    return "\n".join(lines)


def _curve_table(rows: Sequence[RoutingRow]) -> list[str]:
    """Quality against the share of calls sent to the strong model (the cost/quality curve, sampled)."""
    shares = [i / 10 for i in range(11)]
    lines = ["| quality at strong share | " + " | ".join(f"{s:.0%}" for s in shares) + " |",
             "|---" * (len(shares) + 1) + "|"]
    for row in rows:
        n = len(row.curve.share) - 1
        lines.append(f"| {row.router} | " + " | ".join(f"{row.curve.quality[round(s * n)]:.3f}" for s in shares)
                     + " |")
    return lines

"""The learners compared by benchmarks/learning_offline.py, round by round (issue #15): each a
`Candidate`, a head to fit on the rated rows and the blend it is scored with.

The rounds' protocols and outcomes are in the README ("Learning from traffic"); the gateway's learner
is `gateway.learning`, and a candidate goes there only when it wins its round.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.learning.head import MIN_FIT_ROWS, CrossValidated, Head, HeadFit, Recalibrate, Rows
from gateway.learning.index import BlendParams


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    head: Callable[[], HeadFit]
    params: BlendParams


def candidates() -> list[Candidate]:
    """a, b: today's blend (prior weight 4, 64); c: the per-alias cross-validated head, blended with the
    vote at a fixed prior weight (4, 16, 64); c-stacked: the same head with the vote as one more
    feature (its weight fitted by leave-one-out, no fixed prior weight)."""
    cold, length, pcs = ("cold",), ("cold", "length"), ("cold", "length", "pcs")
    out = [Candidate("a today (recalibrate, pw 4)", Recalibrate, BlendParams(prior_weight=4.0)),
           Candidate("b today, pw 64", Recalibrate, BlendParams(prior_weight=64.0))]
    for pw in (4.0, 16.0, 64.0):
        for sets, label in (((cold, length), "prior-only"), ((cold, length, pcs), "prior+pcs")):
            out.append(Candidate(f"c {label}, pw {pw:g}", lambda sets=sets: CrossValidated(sets=sets),
                                 BlendParams(prior_weight=pw)))
    for sets, label in (((cold, ("cold", "vote")), "cold>vote"),
                        ((cold, length, ("cold", "length", "vote")), "cold>length>vote"),
                        ((cold, length, ("cold", "length", "vote"), ("cold", "length", "vote", "pcs")),
                         "cold>length>vote>pcs")):
        out.append(Candidate(f"c-stacked {label}", lambda sets=sets: CrossValidated(sets=sets), BlendParams()))
    return out + second_round() + third_round() + fourth_round()


def second_round() -> list[Candidate]:
    """Issue #15, second round: a stricter keep of the vote (tolerance in standard errors, the vote only
    from N rows, no vote blend before the first fit), the ridge head on the whole embedding (`emb`), and
    both. The baseline is the current learner, `c-stacked cold>vote` (tolerance 1)."""
    cold, vote = ("cold",), ("cold", "vote")
    emb, emb_vote = ("cold", "length", "emb"), ("cold", "length", "vote", "emb")
    grid: list[tuple[str, tuple[tuple[str, ...], ...]]] = [
        ("cold>vote", (cold, vote)), ("cold>emb", (cold, emb)), ("cold>vote>emb+vote", (cold, vote, emb_vote)),
        ("cold>emb>emb+vote", (cold, emb, emb_vote))]
    out = []
    for label, sets in grid:
        for tol, vote_from in ((1.0, 20), (2.0, 20), (1.0, 50), (2.0, 50)):
            if vote_from != 20 and not any("vote" in s for s in sets):
                continue  # no vote: vote_from changes nothing
            out.append(Candidate(
                f"r2 {label} tol {tol:g} vote>={vote_from}",
                lambda sets=sets, tol=tol, vf=vote_from: CrossValidated(
                    sets=sets, tolerance=tol, vote_from=vf, blend_before_fit=False), BlendParams()))
    for sets in ((("emb",),), (emb,)):  # not candidates: the embedding head always kept, to see what it knows
        out.append(Candidate(f"r2 diagnostic {'+'.join(sets[0])} forced", lambda sets=sets: CrossValidated(
            sets=sets, blend_before_fit=False), BlendParams()))
    return out


class KeepReversal(CrossValidated):
    """Third round, lead B: a set fitted with a negative cold-start weight is kept only when its
    leave-one-out error beats the same set without the cold start (for the cold start alone: the mean
    label) by more than `reverse_tolerance` paired standard errors; when the cold start alone fails,
    the head is the plain cold start and nothing richer is tried."""

    def __init__(self, *, reverse_tolerance: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.reverse_tolerance = reverse_tolerance

    def fit(self, rows: Rows) -> Head | None:
        n = len(rows)
        if n < MIN_FIT_ROWS:
            return super().fit(rows)
        kept = None
        for features in (s for s in self.sets if n >= self.vote_from or "vote" not in s):
            fit = self._fit_set(rows, features)
            if fit.head.w_cold < 0 and not self._reversal_holds(rows, features, fit.loo):
                if kept is None:
                    return Head(0.0, 1.0, stacked=self.stacked)
                continue
            if kept is None:
                kept = fit
                continue
            gain = kept.loo - fit.loo
            if gain.mean() > self.tolerance * gain.std() / np.sqrt(n):
                kept = fit
        return kept.head if kept is not None else None

    def _reversal_holds(self, rows: Rows, features: tuple[str, ...], loo: np.ndarray) -> bool:
        n = len(rows)
        without = tuple(f for f in features if f != "cold")
        if without:
            base = self._fit_set(rows, without).loo
        else:
            y = rows.labels
            base = ((y - y.mean()) * n / (n - 1)) ** 2
        gain = base - loo
        return bool(gain.mean() > self.reverse_tolerance * gain.std() / np.sqrt(n))


def third_round() -> list[Candidate]:
    """Issue #15, third round (protocol in the README): A = no vote blend below 20 rows; B1, B2 = the
    keep rule for a negative cold-start weight at 1 and 2 standard errors; A+B1, A+B2."""
    sets = (("cold",), ("cold", "vote"))
    out = [Candidate("r3 current", lambda: CrossValidated(sets=sets), BlendParams()),
           Candidate("r3 A", lambda: CrossValidated(sets=sets, blend_before_fit=False), BlendParams())]
    for a in (False, True):
        for tol in (1.0, 2.0):
            out.append(Candidate(f"r3 {'A+' if a else ''}B{tol:g}", _keep_reversal(tol, blend=not a), BlendParams()))
    return out


def _keep_reversal(tolerance: float, *, blend: bool) -> Callable[[], HeadFit]:
    return lambda: KeepReversal(sets=(("cold",), ("cold", "vote")), reverse_tolerance=tolerance,
                                blend_before_fit=blend)


class KeepRankReversal(KeepReversal):
    """Fourth round: the same keep rule, its test the rated rows' rank correlation between the cold start
    and the label: a negative cold-start weight is kept only when Spearman's rho is negative with
    one-sided p < `alpha` (normal approximation of the permutation null, z = rho * sqrt(n - 1))."""

    def __init__(self, *, alpha: float, **kwargs: object) -> None:
        super().__init__(reverse_tolerance=0.0, **kwargs)
        self.alpha = alpha

    def _reversal_holds(self, rows: Rows, features: tuple[str, ...], loo: np.ndarray) -> bool:
        return reversal_p(rows.priors, rows.labels) < self.alpha


def reversal_p(cold: np.ndarray, labels: np.ndarray) -> float:
    """One-sided p-value that the cold start ranks the rows backwards: Spearman's rho (average ranks for
    ties), z = rho * sqrt(n - 1), p = Phi(z); 1 when either side is constant."""
    rx, ry = ranks(cold), ranks(labels)
    if rx.std() < 1e-12 or ry.std() < 1e-12:
        return 1.0
    rho = float(np.corrcoef(rx, ry)[0, 1])
    return 0.5 * (1.0 + math.erf(rho * math.sqrt(rx.size - 1) / math.sqrt(2.0)))


def ranks(x: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]


def fourth_round() -> list[Candidate]:
    """Issue #15, fourth round (protocol in the README): C1, C2 = the keep rule for a negative cold-start
    weight by the rows' rank correlation, at one-sided p < 0.05 and p < 0.2."""
    sets = (("cold",), ("cold", "vote"))
    out = [Candidate("r4 current", lambda: CrossValidated(sets=sets), BlendParams())]
    for label, alpha in (("C1 p<0.05", 0.05), ("C2 p<0.2", 0.2)):
        out.append(Candidate(f"r4 {label}", _keep_rank_reversal(alpha), BlendParams()))
    return out


def _keep_rank_reversal(alpha: float) -> Callable[[], HeadFit]:
    return lambda: KeepRankReversal(sets=(("cold",), ("cold", "vote")), alpha=alpha)

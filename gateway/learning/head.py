"""Per-alias heads: a score refitted on the alias's own outcome rows after each sync.

    Head     score(cold, log_chars, vote, vector) -> the need of the stronger model: a few
             multiply-adds and at most one dot product with the embedding (no scan of the rows)
    HeadFit  fit(rows) -> a Head, or None while there are fewer than MIN_FIT_ROWS rows (the
             cold start stands); run after a sync, in a thread, off the request path

Two fits:

    Recalibrate    label ~ 1 + cold start + log(prompt chars), ridge 1; the vote of the nearest rows
                   is then blended in with a fixed prior weight (the first learner)
    CrossValidated label ~ 1 + features, ridge; the feature set and the ridge strength are chosen by
                   leave-one-out error on the alias's own rows, with a bias to the simplest. Sets are
                   tried in order and a richer one replaces the one kept only when its leave-one-out
                   squared error is lower by more than `tolerance` standard errors (paired, per row).
                   Features:
                     cold     the cold-start score (alone: its ranking kept, only rescaled)
                     length   log(prompt chars)
                     vote     the mean label of the nearest rows (for a fitted row: its nearest
                              other rows), so the vote's weight is fitted, not fixed
                     pcs      the embedding's projection on the rows' top principal directions
                     emb      the whole embedding, ridge-penalised while the other features are not
                              (gateway/learning/ridge.py)
                   Closed form: one eigendecomposition (or SVD) per set gives every ridge strength's
                   leave-one-out errors. Sets with the vote are tried only from `vote_from` rows; with
                   `blend_before_fit` off, fewer than MIN_FIT_ROWS rows give the cold start unchanged
                   (no vote blended in) instead of no head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
MIN_FIT_ROWS = 20


@dataclass(frozen=True, slots=True)
class Rows:
    """An alias's labelled rows as arrays (vectors L2-normalised; votes leave each row out)."""

    priors: F64
    log_chars: F64
    votes: F64
    vectors: F32
    labels: F64

    def __len__(self) -> int:
        return int(self.labels.size)


@dataclass(frozen=True, slots=True)
class Head:
    """score = clip(bias + w_cold * cold + w_len * log_chars + w_vote * vote + vector @ w_vec, 0, 1)"""

    bias: float
    w_cold: float
    w_len: float = 0.0
    w_vote: float = 0.0
    w_vec: F32 | None = None
    features: tuple[str, ...] = ("cold",)
    stacked: bool = False
    """The nearest rows' vote is one of the fit's inputs (weighed by the fit, even if dropped), so no
    fixed-weight blend with the vote follows."""

    def score(self, cold: float, log_chars: float, vote: float, vector: F32) -> float:
        s = self.bias + self.w_cold * cold + self.w_len * log_chars + self.w_vote * vote
        if self.w_vec is not None and vector.shape == self.w_vec.shape:
            s += float(vector @ self.w_vec)
        return min(1.0, max(0.0, s))


class HeadFit(Protocol):
    def fit(self, rows: Rows) -> Head | None:
        """A head for these rows, or None (the cold start stands)."""
        ...


class Recalibrate:
    """The cold start recalibrated with the length prior: a 3x3 ridge solve."""

    def fit(self, rows: Rows) -> Head | None:
        n = len(rows)
        if n < MIN_FIT_ROWS:
            return None
        x = np.stack([np.ones(n), rows.priors, rows.log_chars], axis=1)
        a, b, c = np.linalg.solve(x.T @ x + np.diag([0.0, 1.0, 1.0]), x.T @ rows.labels)
        return Head(float(a), float(b), float(c), features=("cold", "length"))


@dataclass(frozen=True, slots=True)
class _Fit:
    loo: F64
    """Per-row squared leave-one-out errors at the set's best ridge strength."""
    head: Head


class CrossValidated:
    def __init__(self, *, sets: tuple[tuple[str, ...], ...] = (("cold",), ("cold", "vote")),
                 tolerance: float = 1.0, components: int = 8, vote_from: int = MIN_FIT_ROWS,
                 blend_before_fit: bool = True,
                 alphas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0)) -> None:
        """`sets` in order of preference (simplest first); `alphas` are ridge strengths per row of
        standardised features."""
        self.sets = sets
        self.tolerance = tolerance
        self.components = components
        self.vote_from = vote_from
        self.blend_before_fit = blend_before_fit
        self.alphas = alphas
        self.stacked = any("vote" in s or "emb" in s for s in sets)

    def fit(self, rows: Rows) -> Head | None:
        n = len(rows)
        if n < MIN_FIT_ROWS:
            return None if self.blend_before_fit else Head(0.0, 1.0, stacked=True)
        kept: _Fit | None = None
        for features in (s for s in self.sets if n >= self.vote_from or "vote" not in s):
            fit = self._fit_set(rows, features)
            if kept is None:
                kept = fit
                continue
            gain = kept.loo - fit.loo
            if gain.mean() > self.tolerance * gain.std() / np.sqrt(n):
                kept = fit
        return kept.head if kept is not None else None

    def _columns(self, rows: Rows, features: tuple[str, ...]) -> tuple[F64, F64 | None]:
        """The set's columns (cold, length, vote, projections, in that order) and the projection basis."""
        named = {"cold": rows.priors, "length": rows.log_chars, "vote": rows.votes}
        cols = [named[f] for f in ("cold", "length", "vote") if f in features]
        basis = None
        p = min(self.components, len(rows) // 10)
        if "pcs" in features and p >= 1:
            v = rows.vectors.astype(np.float64)
            centred = v - v.mean(axis=0)
            basis = np.linalg.eigh(centred.T @ centred)[1][:, ::-1][:, :p]
            cols.extend((v @ basis).T)
        return np.stack(cols, axis=1), basis

    def _fit_set(self, rows: Rows, features: tuple[str, ...]) -> _Fit:
        if "emb" in features:
            return self._fit_embedding(rows, features)
        x, basis = self._columns(rows, features)
        n = len(rows)
        mean, std = x.mean(axis=0), x.std(axis=0)
        std[std < 1e-9] = 1.0
        xs = (x - mean) / std
        y = rows.labels
        yc = y - y.mean()
        e, v = np.linalg.eigh(xs.T @ xs)
        z = xs @ v
        zy = z.T @ yc
        best_loo: F64 | None = None
        best_w = np.zeros(x.shape[1])
        for alpha in self.alphas:
            inv = 1.0 / (np.maximum(e, 0.0) + alpha * n)
            leverage = 1.0 / n + (z * z) @ inv
            loo = ((yc - z @ (inv * zy)) / (1.0 - leverage)) ** 2
            if best_loo is None or loo.mean() < best_loo.mean():
                best_loo, best_w = loo, v @ (inv * zy)
        assert best_loo is not None
        w = best_w / std
        weights = dict(zip([f for f in ("cold", "length", "vote") if f in features], w, strict=False))
        w_vec = None if basis is None else (basis @ w[len(weights):]).astype(np.float32)
        head = Head(bias=float(y.mean() - mean @ w), w_cold=float(weights.get("cold", 0.0)),
                    w_len=float(weights.get("length", 0.0)), w_vote=float(weights.get("vote", 0.0)), w_vec=w_vec,
                    features=features, stacked=self.stacked)
        return _Fit(best_loo, head)

    def _fit_embedding(self, rows: Rows, features: tuple[str, ...]) -> _Fit:
        from gateway.learning.ridge import fit_embedding

        names = [f for f in ("cold", "length", "vote") if f in features]
        named = {"cold": rows.priors, "length": rows.log_chars, "vote": rows.votes}
        z = np.stack([np.ones(len(rows)), *(named[f] for f in names)], axis=1)
        fit = fit_embedding(z, rows.vectors.astype(np.float64), rows.labels)
        weights = dict(zip(names, fit.coef[1:], strict=True))
        head = Head(bias=float(fit.coef[0]), w_cold=float(weights.get("cold", 0.0)),
                    w_len=float(weights.get("length", 0.0)), w_vote=float(weights.get("vote", 0.0)),
                    w_vec=fit.w.astype(np.float32), features=features, stacked=self.stacked)
        return _Fit(fit.loo, head)

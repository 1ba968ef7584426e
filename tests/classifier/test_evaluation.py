"""The held-out protocols: no row is ever scored by a model that saw its task family."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.evaluation import calibrate, held_out, held_out_masks, held_out_units, protocol
from classifier.ordinal import fit_ordinal
from classifier.training import Featurized, TrainConfig, fit, logits_of

GROUPS = np.asarray(["arc"] * 6 + ["mbpp"] * 5 + ["winogrande"] * 4 + ["math"] * 3 + ["gpqa"] * 2)


@pytest.mark.parametrize("folds", [0, 2, 3, 5])
def test_held_out_masks_partition_the_rows_by_family(folds: int) -> None:
    masks = held_out_masks(GROUPS, folds)
    assert len(masks) == len(held_out_units(GROUPS, folds))
    assert (np.sum(masks, axis=0) == 1).all()  # every row is held out exactly once
    for mask in masks:  # the model for `mask` is fitted on `~mask`: the two share no family
        assert not set(GROUPS[mask].tolist()) & set(GROUPS[~mask].tolist())


def test_leave_one_family_out_holds_out_each_family_alone() -> None:
    units = held_out_units(GROUPS, 0)
    assert units == [{"arc"}, {"gpqa"}, {"math"}, {"mbpp"}, {"winogrande"}]
    assert held_out_units(GROUPS[::-1], 0) == units  # deterministic, whatever the row order
    assert protocol(0) == "leave-one-family-out" and protocol(5) == "grouped 5-fold"
    with pytest.raises(ValueError, match="folds"):
        held_out_units(GROUPS, -1)


def _leaky_family() -> Featurized:
    """Feature 3 gives the tier away in family `leak` and is zero everywhere else; other features are noise
    and constant in `leak`. Only a model that saw `leak` can tell its rows apart."""
    rng = np.random.default_rng(0)
    groups = np.concatenate([np.repeat(GROUPS, 4), ["leak"] * 40])
    n, other = len(groups), len(groups) - 40
    tiers = np.concatenate([rng.integers(0, 3, other), np.tile([0, 2], 20)])
    dense = np.zeros((n, 3))
    dense[:other, :2] = rng.normal(size=(other, 2))
    dense[other:, 2] = np.where(tiers[other:] == 2, 1.0, -1.0)
    return Featurized(keys=[[] for _ in range(n)], dense=dense, tiers=tiers, weights=np.ones(n), groups=groups,
                      tasks=[None] * n, unsolved=np.zeros(n, dtype=bool), outcome=np.ones(n, dtype=bool))


@pytest.mark.parametrize("folds", [0, 2])
def test_a_family_is_scored_by_a_model_that_never_saw_it(folds: int) -> None:
    feat = _leaky_family()
    leak = feat.groups == "leak"
    weights, vocab = fit(feat, TrainConfig(), with_task=False)
    seen = logits_of(weights, feat, vocab)[leak]
    assert seen[feat.tiers[leak] == 2].min() > seen[feat.tiers[leak] == 0].max()  # seeing it gives it away
    out = held_out(feat, TrainConfig(), folds=folds, show_progress=False)
    assert np.ptp(out.logits[leak]) < 1e-9  # held out, its rows are indistinguishable
    assert np.allclose(out.probs.sum(axis=1), 1.0)


def _with_weak_block(feat: Featurized, tier: int, size: int = 60) -> Featurized:
    """`feat` plus a family of weak-label rows (weight 0.3, all at `tier`) that the tier head leaves out
    (marked unsolved), so only the calibration could ever see their labels."""
    n = len(feat.tiers) + size
    return Featurized(keys=feat.keys + [[] for _ in range(size)], dense=np.vstack([feat.dense, np.zeros((size, 3))]),
                      tiers=np.concatenate([feat.tiers, np.full(size, tier)]),
                      weights=np.concatenate([feat.weights, np.full(size, 0.3)]),
                      groups=np.concatenate([feat.groups, ["arena_hard"] * size]), tasks=feat.tasks + [None] * size,
                      unsolved=np.concatenate([feat.unsolved, np.ones(size, dtype=bool)]),
                      outcome=np.arange(n) < len(feat.tiers))


def test_weak_labels_do_not_move_the_calibration() -> None:
    rng = np.random.default_rng(1)
    base = _leaky_family()
    logits = rng.normal(size=len(base.tiers)) + base.tiers  # outcome rows: higher logit, higher tier
    # the arena_hard failure: weak rows all labelled tier 3 whose held-out logits are very low
    weak = _with_weak_block(base, tier=2)
    weak_logits = np.concatenate([logits, np.full(60, -5.0)])
    alone = calibrate(logits, base, np.ones(len(logits), dtype=bool))
    assert calibrate(weak_logits, weak, np.ones(len(weak_logits), dtype=bool)) == alone
    polluted = fit_ordinal(weak_logits, weak.tiers, weak.weights)  # what fitting on every row would give
    assert polluted.a2 < alone.a2 / 2 and polluted.prior != alone.prior
    with pytest.raises(ValueError, match="outcome-labelled"):
        calibrate(weak_logits, weak, ~weak.outcome)


@pytest.mark.parametrize("folds", [0, 2])
def test_held_out_calibration_ignores_weak_labels(folds: int) -> None:
    easy = held_out(_with_weak_block(_leaky_family(), tier=0), TrainConfig(), folds=folds, show_progress=False)
    hard = held_out(_with_weak_block(_leaky_family(), tier=2), TrainConfig(), folds=folds, show_progress=False)
    assert np.array_equal(easy.logits, hard.logits)  # the head never sees the weak rows' labels...
    assert easy.ordinal == hard.ordinal  # ...nor does the shipped map
    assert np.array_equal(easy.probs, hard.probs)  # ...nor the per-unit held-out maps

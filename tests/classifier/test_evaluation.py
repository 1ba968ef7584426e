"""The held-out protocol and the selection rule: no row is ever scored by a model that saw its task family,
and the shipped head is picked by the rule written before the figures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from classifier.evaluation import LENGTH, POOLED, choose, held_out_masks, held_out_units, held_out_values, protocol
from classifier.heads import CANDIDATES
from classifier.trainset import TrainSet
from classifier.types import Task

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


def _leaky_family(d: int = 8) -> TrainSet:
    """Dimension 0 of the embedding gives the target away in family `leak` and is zero everywhere else;
    the other dimensions are noise. Only a model that saw `leak` can tell its rows apart."""
    rng = np.random.default_rng(0)
    groups = np.concatenate([np.repeat(GROUPS, 6), ["leak"] * 40])
    n, other = len(groups), len(groups) - 40
    target = np.concatenate([rng.integers(0, 2, other), np.tile([0, 1], 20)]).astype(float)
    vectors = np.zeros((n, d))
    vectors[:other, 1:] = rng.normal(size=(other, d - 1))
    vectors[other:, 0] = np.where(target[other:] == 1, 1.0, -1.0)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return TrainSet(vectors=vectors.astype(np.float32), log_chars=np.full(n, 4.0), target=target,
                    weights=np.ones(n), groups=groups, tiers=target.astype(int), outcome=np.ones(n, dtype=bool),
                    pair_target=target[:, None].copy(), pair_names=("p",), q_cheap=1 - target, q_strong=np.ones(n),
                    tasks=tuple(Task.CHAT for _ in range(n)), texts=tuple("" for _ in range(n)))


@pytest.mark.parametrize("name", ["logistic C=1", "factorisation 16-d", "kNN k=50 (reference)",
                                  "rank(family + length, length)", "pairwise (family + within pairs, length)",
                                  "pairwise gap-weighted", "rank(pairwise, length)"])
def test_a_family_is_scored_by_a_model_that_never_saw_it(name: str) -> None:
    data = _leaky_family()
    leak = data.groups == "leak"
    positive = data.target[leak] == 1
    fitted = CANDIDATES[name].fit(data)(data.vectors, data.log_chars)[leak]  # fitted with the family in view
    if CANDIDATES[name].servable and "rank" not in name:  # seeing it gives it away
        assert fitted[positive].min() > fitted[~positive].max()
    # held out, its own labels cannot reach its scores: flipping them changes nothing
    flipped_target = data.target.copy()
    flipped_target[leak] = 1 - flipped_target[leak]
    flipped = dataclasses.replace(data, target=flipped_target, pair_target=flipped_target[:, None].copy())
    seen = held_out_values(data, [name], folds=0, show_progress=False)[name]
    again = held_out_values(flipped, [name], folds=0, show_progress=False)[name]
    np.testing.assert_array_equal(seen[leak], again[leak])
    assert not np.array_equal(seen[~leak], again[~leak]) or name.startswith("kNN")  # the others did see them


def _table(**means: float) -> dict[str, dict[str, float]]:
    """Two families where each router has the given APGR, and a pooled row with the same figures."""
    row = dict(means)
    return {"a": row, "b": row, POOLED: row}


def test_the_rule_takes_the_best_mean_among_servable_heads_that_beat_length_pooled() -> None:
    apgr = _table(**{LENGTH: 0.55, "logistic C=1": 0.60, "logistic C=0.05": 0.58, "kNN k=50 (reference)": 0.70})
    assert choose(apgr, ["logistic C=1", "logistic C=0.05", "kNN k=50 (reference)"]) == "logistic C=1"


def test_within_the_tie_margin_fewer_parameters_win() -> None:
    apgr = _table(**{LENGTH: 0.55, "factorisation 16-d": 0.603, "logistic C=1": 0.600})
    assert choose(apgr, ["factorisation 16-d", "logistic C=1"]) == "logistic C=1"
    apgr = _table(**{LENGTH: 0.55, "factorisation 16-d": 0.610, "logistic C=1": 0.600})
    assert choose(apgr, ["factorisation 16-d", "logistic C=1"]) == "factorisation 16-d"


def test_when_no_head_beats_length_pooled_the_length_rule_ships() -> None:
    apgr = _table(**{LENGTH: 0.60, "logistic C=1": 0.59})
    assert choose(apgr, ["logistic C=1"]) == LENGTH


def test_a_challenger_replaces_the_incumbent_only_with_a_strictly_higher_mean_per_family() -> None:
    incumbent, challenger = "rank(family + length, length)", "rank(pairwise, length)"
    names = [incumbent, challenger]
    # within the old tie margin and with fewer parameters, but lower: the incumbent stays
    assert choose(_table(**{LENGTH: 0.55, incumbent: 0.600, challenger: 0.598}), names) == incumbent
    assert choose(_table(**{LENGTH: 0.55, incumbent: 0.600, challenger: 0.602}), names) == challenger
    # higher per family but not above length pooled: not eligible
    apgr = _table(**{LENGTH: 0.55, incumbent: 0.600, challenger: 0.62})
    apgr[POOLED] = {**apgr[POOLED], challenger: 0.54}
    assert choose(apgr, names) == incumbent


def test_when_no_incumbent_beats_length_a_challenger_must_beat_length_per_family() -> None:
    challenger = "pairwise (family + within pairs, length)"
    apgr = {"a": {LENGTH: 0.50, "logistic C=1": 0.49, challenger: 0.52},
            "b": {LENGTH: 0.50, "logistic C=1": 0.49, challenger: 0.47},
            POOLED: {LENGTH: 0.55, "logistic C=1": 0.54, challenger: 0.56}}
    assert choose(apgr, ["logistic C=1", challenger]) == LENGTH  # mean 0.495 is not above length's 0.500
    apgr["b"][challenger] = 0.49
    assert choose(apgr, ["logistic C=1", challenger]) == challenger

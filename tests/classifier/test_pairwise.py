"""The pairwise ranking head learns within-family order, ships as a plain linear head, and is reproducible."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from classifier import Classifier, artifact
from classifier.heads import CANDIDATES, PAIRWISE, PAIRWISE_GAP, logistic
from classifier.model import FORMAT_VERSION, Weights
from classifier.ordinal import fit_ordinal
from classifier.pairwise import across_pairs, pairwise, within_pairs
from classifier.scorer import Linear
from classifier.types import Task
from embedding import RequestEmbedding
from tests.classifier.synthetic import length_families


def _auc(score: np.ndarray, target: np.ndarray) -> float:
    pos, neg = score[target == 1], score[target == 0]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def test_the_head_ranks_the_within_family_harder_prompt_higher_in_an_unseen_family() -> None:
    data = length_families()
    held_out = data.groups == "f2"
    train, test = data.take(np.nonzero(~held_out)[0]), data.take(np.nonzero(held_out)[0])
    head, pointwise = pairwise()(train), logistic(1.0)(train)
    assert isinstance(pointwise, Linear)
    # a pointwise head mixes the across-family slope into length's; within pairs keep the inside order
    assert head.w_len > 1.5 * pointwise.w_len > 0
    auc = _auc(head(test.vectors, test.log_chars), test.target)
    assert auc > 0.65 and auc > _auc(pointwise(test.vectors, test.log_chars), test.target) + 0.05


def test_pairs_are_ordered_and_each_family_weighs_the_same() -> None:
    data = length_families()
    a, b, w = within_pairs(data, np.random.default_rng(0))
    assert (data.groups[a] == data.groups[b]).all() and (data.target[a] != data.target[b]).all()
    for family in set(data.groups.tolist()):
        assert np.isclose(w[data.groups[a] == family].sum(), 1.0)
    a, b = across_pairs(data, np.random.default_rng(0), 2000)
    assert a.size > 0 and (data.groups[a] != data.groups[b]).all() and (data.target[a] != data.target[b]).all()


def test_the_fit_is_seeded_and_gap_weighting_is_a_different_head() -> None:
    data = length_families()
    first, again = CANDIDATES[PAIRWISE].fit(data), CANDIDATES[PAIRWISE].fit(data)
    assert isinstance(first, Linear) and isinstance(again, Linear)
    np.testing.assert_array_equal(first.w, again.w)
    assert first.w_len == again.w_len and first.bias == 0.0
    soft = data.target.copy()
    soft[::3] = 0.5  # partly defined targets: gap weighting counts those pairs less
    gap = CANDIDATES[PAIRWISE_GAP].fit(dataclasses.replace(data, target=soft))
    plain = CANDIDATES[PAIRWISE].fit(dataclasses.replace(data, target=soft))
    assert isinstance(gap, Linear) and isinstance(plain, Linear) and not np.allclose(gap.w, plain.w)


def test_a_pairwise_head_round_trips_through_the_artifact(tmp_path: Path) -> None:
    data = length_families()
    head = CANDIDATES["rank(pairwise, length)"].fit(data)
    ordinal = fit_ordinal(head(data.vectors, data.log_chars), data.tiers, data.weights)
    weights = Weights(scorer=head, ordinal=ordinal, task_w=np.zeros((8, 1)), task_b=np.zeros(1),
                      tasks=(Task.CHAT,), length_grid=np.quantile(data.log_chars, np.linspace(0, 1, 257)))
    meta = {"format": FORMAT_VERSION, "head": weights.head_meta(), "ordinal": ordinal.to_json(), "tasks": ["chat"]}
    path = tmp_path / "pairwise.npz"
    artifact.save(path, {k: v.astype("float32") for k, v in weights.arrays().items()}, meta)
    loaded = Classifier.from_file(path)
    for i in (0, 200, 700):
        e = RequestEmbedding(vector=data.vectors[i], text="x", prompt_chars=round(float(np.expm1(data.log_chars[i]))),
                             turns=1)
        expected = ordinal.probabilities(head.one(data.vectors[i], float(np.log1p(e.prompt_chars))))
        np.testing.assert_allclose(loaded.probabilities(e), expected, atol=1e-3)

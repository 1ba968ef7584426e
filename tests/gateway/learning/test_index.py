from __future__ import annotations

import numpy as np

from gateway.learning.index import BlendParams, OutcomeIndex
from gateway.learning.rows import Ladder, OutcomeRow

LADDER = Ladder("cheap", "strong")


def _row(vector: list[float], cheap: float, strong: float | None = None) -> OutcomeRow:
    outcomes = {"cheap": cheap} | ({"strong": strong} if strong is not None else {})
    return OutcomeRow(alias="auto", ladder=LADDER, vector=np.asarray(vector, dtype=np.float32), outcomes=outcomes,
                      prior=0.2, predicted=0.2, prompt_chars=10)


def test_labels_follow_strong_wins() -> None:
    assert _row([1, 0], 1.0).label == 0.0
    assert _row([1, 0], 0.0).label == 1.0  # the stronger model's outcome unknown: assumed good
    assert _row([1, 0], 0.0, 0.0).label == 0.0  # both failed: the cheaper model is still the cheapest choice
    assert OutcomeRow(alias="auto", ladder=LADDER, vector=np.ones(2, np.float32), outcomes={"strong": 1.0},
                      prior=0, predicted=0, prompt_chars=0).label is None


def test_the_prior_stands_without_evidence_and_shrinks_as_it_grows() -> None:
    index = OutcomeIndex(max_rows=100)
    params = BlendParams(neighbours=8, min_similarity=0.5, prior_weight=2.0, sharpness=0.0)
    assert index.blend(np.array([1, 0], np.float32), 0.2, params).score == 0.2
    index.add(_row([0, 1], 0.0))  # orthogonal: below min_similarity, no vote
    assert index.blend(np.array([1, 0], np.float32), 0.2, params).evidence == 0
    scores = []
    for _ in range(6):
        index.add(_row([1, 0], 0.0, 1.0))
        scores.append(index.blend(np.array([1, 0], np.float32), 0.2, params).score)
    assert scores == sorted(scores) and scores[0] > 0.2 and scores[-1] > 0.7
    assert abs(scores[-1] - (2 * 0.2 + 6) / 8) < 1e-6


def test_rows_are_bounded_oldest_first() -> None:
    index = OutcomeIndex(max_rows=3)
    for _ in range(3):
        index.add(_row([1, 0], 0.0))
    for _ in range(3):
        index.add(_row([1, 0], 1.0))
    blend = index.blend(np.array([1, 0], np.float32), 0.5, BlendParams(prior_weight=1.0, sharpness=0.0))
    assert len(index) == 3 and blend.votes == 3 and abs(blend.score - 0.5 / 4) < 1e-6


def test_a_cold_start_that_ranks_this_traffic_backwards_is_turned_around() -> None:
    index = OutcomeIndex(max_rows=100)
    for i in range(40):  # the cold start says 0.9 where the cheaper model was fine, 0.1 where it failed
        needy = i % 2 == 0
        index.add(OutcomeRow(alias="auto", ladder=LADDER, vector=np.asarray([1.0, i], np.float32),
                             outcomes={"cheap": 0.0 if needy else 1.0}, prior=0.1 if needy else 0.9,
                             predicted=0.5, prompt_chars=100))
    assert index.prior_of(0.1, 100) == 0.1  # not fitted until asked to
    index.refit(BlendParams())
    assert index.prior_of(0.1, 100) > 0.8 and index.prior_of(0.9, 100) < 0.2

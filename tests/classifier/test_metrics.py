"""Routing curve, APGR and tier metrics on hand-made numbers."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.metrics import expected_calibration_error, routing_curve, routing_report, tier_report

# 4 prompts: the cheap model fails the first two, the strong model gets all right.
Q_CHEAP = np.array([0.0, 0.0, 1.0, 1.0])
Q_STRONG = np.ones(4)
C_CHEAP = np.full(4, 1.0)
C_STRONG = np.full(4, 10.0)


def _report(score: list[float]):  # type: ignore[no-untyped-def]
    return routing_report(routing_curve(np.array(score), Q_CHEAP, Q_STRONG, C_CHEAP, C_STRONG))


def test_constant_score_is_exactly_random() -> None:
    assert _report([0.3] * 4).apgr == pytest.approx(0.5)


def test_oracle_beats_random_and_inverse_loses() -> None:
    oracle, inverse = _report([0.9, 0.8, 0.1, 0.0]), _report([0.0, 0.1, 0.8, 0.9])
    assert oracle.apgr > 0.5 > inverse.apgr
    assert oracle.share_for_half_gap == pytest.approx(0.25)
    # 95% of strong quality needs both hard prompts on the strong model: cost 2*10 + 2*1 of 40.
    assert oracle.cost_saved_at_95 == pytest.approx(1 - 22 / 40)
    assert oracle.quality_cheap == pytest.approx(0.5) and oracle.quality_strong == pytest.approx(1.0)


def test_tier_report_counts_and_f1() -> None:
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]])
    y = np.array([0, 1, 2, 2])
    report = tier_report(probs, y)
    assert report.support == (1, 1, 2)
    assert report.precision == pytest.approx((0.5, 1.0, 1.0))
    assert report.recall == pytest.approx((1.0, 1.0, 0.5))
    assert report.accuracy == pytest.approx(0.75)


def test_calibration_error_is_zero_when_confidence_matches_frequency() -> None:
    confidence = np.array([0.75] * 4)
    assert expected_calibration_error(confidence, np.array([1, 1, 1, 0])) == pytest.approx(0.0)
    assert expected_calibration_error(confidence, np.array([0, 0, 0, 0])) == pytest.approx(0.75)

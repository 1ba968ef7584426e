from __future__ import annotations

import random

import pytest

from gateway.learning.calibrate import Calibrator, Price
from gateway.learning.config import Calibration


def test_the_threshold_keeps_the_strong_share_on_target_as_scores_drift() -> None:
    rng = random.Random(1)
    cal = Calibrator(Calibration(strong_share=0.25, window=400, refit_every=20), threshold=0.5,
                     cheap=Price(0.1, 0.2), strong=Price(3, 15), output_tokens=256)
    for _ in range(1000):
        cal.observe(rng.random(), 100)
    assert cal.threshold == pytest.approx(0.75, abs=0.06)
    for _ in range(1000):  # traffic gets harder: every score moves up
        cal.observe(0.5 + rng.random() / 2, 100)
    assert cal.threshold == pytest.approx(0.875, abs=0.04)
    assert cal.strong_share == pytest.approx(0.25, abs=0.02)


def test_a_cost_target_becomes_a_share() -> None:
    cal = Calibrator(Calibration(cost_per_1k_usd=1.0), threshold=0.5, cheap=Price(0.0, 0.0), strong=Price(0, 10),
                     output_tokens=400)  # the stronger model costs $4 per 1,000 requests, the cheaper nothing
    assert cal.target_share() == pytest.approx(0.25)


def test_exactly_one_target() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Calibration(strong_share=0.2, cost_per_1k_usd=1.0)

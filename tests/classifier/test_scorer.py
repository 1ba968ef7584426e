"""The serving score's interpolation: numpy's, to the last bit, without numpy per call."""

from __future__ import annotations

import math
import random

import numpy as np

from classifier.model import load_default
from classifier.scorer import LEVELS, Linear, RankBlend, Relative, interp


def test_interp_is_numpys_to_the_last_bit() -> None:
    rng = random.Random(3)
    grids = [np.sort(np.array([rng.gauss(0, 2) for _ in range(257)])),
             np.repeat(np.linspace(0.0, 9.0, 257 // 4 + 1), 4)[:257],  # runs of equal quantiles
             np.array([1.0] * 100 + [2.0] * 157)]
    for grid in grids:
        xs = tuple(grid.tolist())
        probes = list(xs) + [rng.uniform(xs[0] - 1, xs[-1] + 1) for _ in range(3000)] + [xs[0] - 1e-12, xs[-1] + 5]
        for x in probes:
            assert interp(x, xs, LEVELS) == float(np.interp(x, grid, np.linspace(0.0, 1.0, 257))), x


def test_the_shipped_head_scores_as_numpy_would() -> None:
    """rank(family + relative length, relative length): the nearest centroid by Euclidean distance, relative
    length, then the rank blend, each written out with numpy."""
    scorer = load_default()._w.scorer  # the reference formula, written out with numpy
    assert isinstance(scorer, Relative) and isinstance(scorer.inner, RankBlend)
    blend, centroids = scorer.inner, scorer.centroids
    assert isinstance(blend.head, Linear)
    rng = np.random.default_rng(5)
    levels = np.linspace(0.0, 1.0, 257)
    for _ in range(500):
        vector = rng.normal(size=blend.head.w.shape[0]).astype(np.float32)
        vector /= np.linalg.norm(vector)
        log_chars = float(rng.uniform(0, 12))
        nearest = int(np.argmin(((centroids.centroids - vector) ** 2).sum(axis=1)))
        relative = log_chars - float(centroids.mean_length[nearest])
        u = float(np.interp(blend.head.one(vector, relative), blend.head_grid, levels))
        r = float(np.interp(relative, blend.length_grid, levels))
        p = min(1 - 1e-4, max(1e-4, (u + r) / 2))
        assert scorer.one(vector, log_chars) == math.log(p / (1 - p))

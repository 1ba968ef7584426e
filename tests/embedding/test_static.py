"""The request embedding: the committed static table, its loader's checks, and what a request yields."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from embedding import EmbeddingUnavailable, StaticEmbedder, embed_request, request_text
from embedding.artifacts import HERE, STATIC, SUMS, TOKENIZER


@pytest.fixture(scope="module")
def static() -> StaticEmbedder:
    return StaticEmbedder.load()


def test_vectors_are_normalised_and_batch_matches_single(static: StaticEmbedder) -> None:
    texts = ["Write a haiku about autumn", "How do I reverse a list in Python?", ""]
    matrix = static.encode(texts)
    assert matrix.shape == (3, static.dimension) == (3, 256)
    assert np.allclose(np.linalg.norm(matrix[:2], axis=1), 1.0, atol=1e-5)
    assert not matrix[2].any()  # nothing to embed: a zero row, never NaN
    assert np.allclose(matrix[1], static.embed(texts[1]), atol=1e-6)


def test_meaning_is_kept(static: StaticEmbedder) -> None:
    def sim(a: str, b: str) -> float:
        return float(static.embed(a) @ static.embed(b))

    paraphrase = sim("How do I reverse a list in Python?", "How can I reverse a Python list?")
    same_topic = sim("How do I reverse a list in Python?", "How do I sort a dictionary by value in Python?")
    unrelated = sim("How do I reverse a list in Python?", "What should I cook for dinner tonight?")
    assert paraphrase > same_topic > unrelated
    assert paraphrase > 0.85 and unrelated < 0.5


def test_a_huge_prompt_costs_what_its_clipped_part_costs(static: StaticEmbedder) -> None:
    big = "word " * 1_000_000 + "Now summarise the text above."
    vector = static.embed(big)
    assert vector.shape == (256,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_request_embedding_uses_the_last_user_message() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def embed(self, text: str) -> np.ndarray:
            self.seen.append(text)
            return np.ones(4, dtype=np.float32) / 2

    recorder = Recorder()
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "First question"},
                {"role": "assistant", "content": "An answer"},
                {"role": "user", "content": [{"type": "text", "text": "Second"}, {"type": "text", "text": "part"},
                                             {"type": "image_url", "image_url": {"url": "x"}}]}]
    got = embed_request(recorder, messages)
    assert recorder.seen == ["Second\npart"] == [got.text]
    assert got.turns == 2
    assert got.prompt_chars == len("Be brief.") + len("First question") + len("An answer") + len("Second\npart")
    assert request_text([{"role": "assistant", "content": "no user"}]) == ""


def test_missing_or_altered_weights_are_one_clear_error(tmp_path: Path) -> None:
    for name in (STATIC, TOKENIZER, SUMS):
        shutil.copy(HERE / name, tmp_path / name)
    assert StaticEmbedder.load(tmp_path).dimension == 256
    data = bytearray((tmp_path / STATIC).read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / STATIC).write_bytes(bytes(data))
    with pytest.raises(EmbeddingUnavailable, match=r"altered.*reinstall turnout"):
        StaticEmbedder.load(tmp_path)
    (tmp_path / STATIC).unlink()
    with pytest.raises(EmbeddingUnavailable, match=r"missing.*static\.npz"):
        StaticEmbedder.load(tmp_path)

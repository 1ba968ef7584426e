"""Token ids from cached words: the same ids as the tokenizer's, on every kind of text."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
import pytest

from classifier.dataset import read_examples
from classifier.model import DEFAULT_DATA
from embedding import StaticEmbedder, request_text
from embedding.artifacts import load_tokenizer
from embedding.static import clip
from embedding.words import WordIds

if TYPE_CHECKING:
    from tokenizers import Tokenizer

ODD = ["", " ", "hi", "Hello, World!!! 3.14 `code` ~user_name@example.com", "[CLS] what is [SEP] this",
       "a[MASK]b", "x[y]z", "tab\there\x0bvertical\x0cfeed\x00nul\x7fdel", "café crème", "日本語 text",
       "x" * 150, "x" * 99 + " " + "y" * 101, "naïve\u00a0space", "CamelCaseWords and snake_case_words",
       "don't can't won't", "1,000,000.50 $ 12% #hash"]


@pytest.fixture(scope="module")
def words() -> WordIds:
    return WordIds(load_tokenizer())


def _tokenizer() -> Tokenizer:
    """The shipped tokenizer as the embedder runs it: whole texts, unpadded."""
    tokenizer = load_tokenizer()
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def test_odd_texts_give_the_tokenizers_ids(words: WordIds) -> None:
    tokenizer = _tokenizer()
    for text in ODD:
        assert words.ids(text) == tokenizer.encode(text, add_special_tokens=False).ids, text


def test_training_prompts_and_random_ascii_give_the_tokenizers_ids(words: WordIds) -> None:
    rng = random.Random(7)
    texts = [clip(request_text(e.messages)) for e in rng.sample(read_examples(DEFAULT_DATA), 1500)]
    alphabet = [chr(i) for i in range(128)] + ["é", "日", "\u00a0", "ß"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(1500)]
    tokenizer = _tokenizer()
    for text in texts:
        assert words.ids(text) == tokenizer.encode(text, add_special_tokens=False).ids, text


def test_a_full_cache_keeps_answering(words: WordIds) -> None:
    small = WordIds(load_tokenizer(), max_words=2)
    text = "one two three four one five"
    assert small.ids(text) == words.ids(text)


def test_the_embedding_pools_the_tokenizers_ids() -> None:
    static = StaticEmbedder.load()
    table = static._table  # the reference pooling, written out
    tokenizer = _tokenizer()
    for text in [*ODD[1:], "How do I reverse a list in Python?"]:
        ids = tokenizer.encode(clip(text), add_special_tokens=False).ids
        row = table[np.asarray(ids, dtype=np.int64)].sum(axis=0)
        want = row / float(np.sqrt(row @ row)) if ids else np.zeros(static.dimension, dtype=np.float32)
        assert static.embed(text).tobytes() == want.astype(np.float32).tobytes(), text

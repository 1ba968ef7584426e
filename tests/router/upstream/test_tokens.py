"""Prompt tokens: the per-request estimate, and the exact count behind the `TokenCounter` interface."""

from __future__ import annotations

from router.upstream.base import TokenCounter
from router.upstream.tokens import build_token_counter, estimate_tokens
from tests.router.fakes import spec

MSG = [{"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 20}]


def test_the_estimate_is_about_four_characters_a_token() -> None:
    assert estimate_tokens([{"role": "user", "content": "x" * 400}]) == (400 + 16) // 4 + 3
    parts = [{"role": "user", "content": [{"type": "text", "text": "x" * 400}, {"type": "image_url"}]}]
    assert estimate_tokens(parts) == estimate_tokens([{"role": "user", "content": "x" * 400}])


def test_the_built_counter_uses_the_models_tokenizer() -> None:
    counter: TokenCounter = build_token_counter()
    exact = counter.count(spec("gpt-4o-mini"), MSG)
    assert 180 <= exact <= 230, exact  # tiktoken: 10 tokens a sentence, plus the message framing
    assert exact != estimate_tokens(MSG)

"""Counting prompt tokens: a cheap estimate for every request, a model's tokenizer when it matters.

`estimate_tokens` runs once per request (the gateway passes the number down: limits, routing and
the stream's usage all read it). A `TokenCounter` (`router.upstream.base`) counts exactly with a
model's tokenizer, only for models whose context window the estimate comes near; the gateway gets
one from `build_token_counter()` through its services, never from an adapter module directly.
"""

from __future__ import annotations

from typing import Any

from registry import ModelSpec
from router.upstream.base import TokenCounter


def estimate_tokens(messages: Any) -> int:
    """About four characters a token, plus a few per message: cheap, and only for routing."""
    chars = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
        chars += 16
    return chars // 4 + 3


class LiteLLMTokenCounter:
    """The model's tokenizer as litellm knows it (litellm is imported on the first count)."""

    def count(self, spec: ModelSpec, messages: Any) -> int:
        from router.upstream.litellm_adapter import count_tokens

        return count_tokens(spec, messages)


def build_token_counter() -> TokenCounter:
    return LiteLLMTokenCounter()

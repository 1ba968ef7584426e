"""A cached answer replayed as an OpenAI chat completion stream (server-sent events)."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from gateway import sse

_PIECE = re.compile(r"\S+\s*|\s+")


def _pieces(text: str, words_per_chunk: int) -> list[str]:
    words = _PIECE.findall(text)
    return ["".join(words[i:i + words_per_chunk]) for i in range(0, len(words), words_per_chunk)] or [""]


async def replay_sse(response: Mapping[str, Any], *, include_usage: bool,
                     words_per_chunk: int = 4) -> AsyncGenerator[bytes, None]:
    """Role chunk, content chunks, finish chunk, a usage chunk when asked, then `[DONE]`."""
    choice = response["choices"][0]
    message = choice.get("message") or {}
    base: dict[str, Any] = {"id": response.get("id", "chatcmpl-cache"), "object": "chat.completion.chunk",
                            "created": response.get("created", 0), "model": response.get("model", "")}
    if response.get("system_fingerprint") is not None:
        base["system_fingerprint"] = response["system_fingerprint"]
    extra: dict[str, Any] = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse.data({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                            "finish_reason": finish}], **extra})

    yield chunk({"role": message.get("role", "assistant"), "content": ""})
    for piece in _pieces(message.get("content") or "", words_per_chunk):
        if piece:
            yield chunk({"content": piece})
    yield chunk({}, choice.get("finish_reason") or "stop")
    if include_usage:
        yield sse.data({**base, "choices": [], "usage": response.get("usage")})
    yield sse.DONE

"""A streamed answer put back together as a chat completion body, so it can be stored like any other.

Only a stream of text that ended (a `finish_reason` arrived) yields a body; `store` then applies
its usual rules (stop only). A stream cut short, streamed tool calls or more than one choice give
None: nothing to store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def response_from_chunks(chunks: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The `chat.completion` body the chunks add up to, or None (see the module docstring)."""
    first: Mapping[str, Any] | None = None
    content: list[str] = []
    role = "assistant"
    finish: str | None = None
    tool_calls = False
    usage: Any = None
    for chunk in chunks:
        first = first or chunk
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                return None  # n > 1: never stored
            delta = choice.get("delta") or {}
            role = delta.get("role") or role
            content.append(delta.get("content") or "")
            tool_calls = tool_calls or bool(delta.get("tool_calls") or delta.get("function_call"))
            finish = choice.get("finish_reason") or finish
    if first is None or finish is None or tool_calls:
        return None
    message: dict[str, Any] = {"role": role, "content": "".join(content)}
    body: dict[str, Any] = {"id": first.get("id"), "object": "chat.completion", "created": first.get("created"),
                            "model": first.get("model"),
                            "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    if first.get("system_fingerprint") is not None:
        body["system_fingerprint"] = first["system_fingerprint"]
    return body

"""Which upstream answers may be stored: complete successes only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def storable_response(response: Mapping[str, Any]) -> bool:
    """One choice that finished with `stop`, has text content, no tool calls, no refusal, no error."""
    if response.get("error") is not None:
        return False
    choices = response.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], Mapping):
        return False
    choice = choices[0]
    message = choice.get("message")
    if choice.get("finish_reason") != "stop" or not isinstance(message, Mapping):
        return False
    if message.get("tool_calls") or message.get("function_call") or message.get("refusal"):
        return False
    content = message.get("content")
    return isinstance(content, str) and bool(content)

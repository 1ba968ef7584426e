"""Server-sent events in the OpenAI streaming format."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def error_event(body: dict[str, Any]) -> bytes:
    """A failure after the first byte: an `error` event, and no `[DONE]` after it."""
    return event(body)

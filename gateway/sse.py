"""The one SSE writer: every server-sent event the gateway sends is framed here.

The streaming contract, as a client reads it:

- Until the first content chunk (text, tool call or finish) has been read from an upstream, a
  failing stream falls back to the next model invisibly: the client sees one stream.
- After that, the executor's stream raises a `TurnoutError` from its iterator. The gateway then
  writes `error_event(exc)` and closes the response WITHOUT `data: [DONE]`, so a client can tell
  a cut stream from a finished one. The openai SDK raises `APIError` on such an event.
- A stream that ends normally is followed by `DONE`.

`/v1/messages` and `/v1/responses` write named events (`event(...)`) through the same framing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.errors import openai_body
from router.errors import TurnoutError

DONE = b"data: [DONE]\n\n"


def data(payload: Mapping[str, Any]) -> bytes:
    """`data: <json>` and a blank line: one chat completion chunk."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def event(name: str, payload: Mapping[str, Any]) -> bytes:
    """One named event: `event: <name>`, then its `data:` line."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def error_event(exc: TurnoutError) -> bytes:
    """`data: {"error": {"message", "type", "param", "code"}}`: the end of a stream cut after its first byte."""
    return data(openai_body(exc))

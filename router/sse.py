"""The streaming contract, and the bytes of its error event.

- Until the first content chunk (text, tool call or finish) has been read from an upstream, a
  failing stream falls back to the next model invisibly: the client sees one stream.
- After that, the executor's stream raises a `TurnoutError` from its iterator. The gateway then
  writes `sse_error_event(exc)` and closes the response WITHOUT `data: [DONE]`, so a client can
  tell a cut stream from a finished one. The openai SDK raises `APIError` on such an event.
- A stream that ends normally is followed by `SSE_DONE`.
"""

from __future__ import annotations

import json

from router.errors import TurnoutError

SSE_DONE = b"data: [DONE]\n\n"


def sse_data(payload: object) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def sse_error_event(exc: TurnoutError) -> bytes:
    """`data: {"error": {"message", "type", "param", "code"}}` followed by a blank line."""
    return sse_data(exc.body())

"""The gateway's own chat stream read back as dicts, for the protocols that re-render it.

`GatewayService.chat` streams OpenAI `chat.completion.chunk` events as SSE bytes: chunks, then
`data: [DONE]`, or an `{"error": ...}` event and no `[DONE]` when the stream broke after its first
byte (`gateway.sse`). A protocol edge turns that back into dicts and writes its own events
(`gateway.sse.event`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson

DONE: dict[str, Any] = {"done": True}
"""Yielded once after the last chunk of a stream that finished whole."""


async def chunks(stream: AsyncGenerator[bytes, None]) -> AsyncIterator[dict[str, Any]]:
    """Each chunk dict, an `{"error": ...}` dict, and `DONE` at a clean end. Closes `stream`."""
    buffer = b""
    try:
        async for data in stream:
            buffer += data
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        yield DONE
                    elif payload:
                        yield orjson.loads(payload)
    finally:
        await stream.aclose()


def tool_arguments(arguments: str) -> Any:
    """A tool call's JSON arguments as a value ({} when a model sent none, the raw text when not JSON)."""
    if not arguments:
        return {}
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw": arguments}

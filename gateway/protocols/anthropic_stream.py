"""The gateway's chat stream as Anthropic's event sequence.

    message_start, (content_block_start, content_block_delta*, content_block_stop)*,
    message_delta (stop_reason, usage), message_stop

A stream that breaks after its first byte ends with an `error` event and no `message_stop`
(the anthropic SDK raises on it), as the chat stream ends with an error event and no `[DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from gateway import sse
from gateway.protocols import events
from gateway.protocols.anthropic_in import STOP_REASONS, error_body, usage
from router.errors import TurnoutError, UpstreamError


class _Blocks:
    """The open content block: text, or the tool call of a given chat index."""

    def __init__(self) -> None:
        self.index = -1
        self.open: tuple[str, int] | None = None

    def switch(self, key: tuple[str, int], start: dict[str, Any]) -> list[bytes]:
        if self.open == key:
            return []
        out = self.close()
        self.index += 1
        self.open = key
        out.append(sse.event("content_block_start", {"type": "content_block_start", "index": self.index,
                                                       "content_block": start}))
        return out

    def close(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        return [sse.event("content_block_stop", {"type": "content_block_stop", "index": self.index})]

    def delta(self, delta: dict[str, Any]) -> bytes:
        return sse.event("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta})


def _chunk(chunk: dict[str, Any], blocks: _Blocks) -> list[bytes]:
    out: list[bytes] = []
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content"):
            out += blocks.switch(("text", 0), {"type": "text", "text": ""})
            out.append(blocks.delta({"type": "text_delta", "text": delta["content"]}))
        for call in delta.get("tool_calls") or []:
            fn = call.get("function") or {}
            out += blocks.switch(("tool", call.get("index", 0)), {"type": "tool_use", "id": call.get("id") or "",
                                                                 "name": fn.get("name") or "", "input": {}})
            if fn.get("arguments"):
                out.append(blocks.delta({"type": "input_json_delta", "partial_json": fn["arguments"]}))
    return out


async def render(stream: AsyncGenerator[bytes, None], *, message_id: str, model: str) -> AsyncGenerator[bytes, None]:
    start: dict[str, Any] = {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}
    yield sse.event("message_start", {"type": "message_start", "message": start})
    blocks = _Blocks()
    stop_reason, counted = "end_turn", usage(None)
    async for chunk in events.chunks(stream):
        if chunk is events.DONE:
            for data in blocks.close():
                yield data
            yield sse.event("message_delta", {"type": "message_delta", "usage": counted,
                                               "delta": {"stop_reason": stop_reason, "stop_sequence": None}})
            yield sse.event("message_stop", {"type": "message_stop"})
            return
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {}
            exc: TurnoutError = UpstreamError(str(error.get("message") or "the upstream stream failed"))
            yield sse.event("error", error_body(exc))
            return
        for data in _chunk(chunk, blocks):
            yield data
        for choice in chunk.get("choices") or []:
            if choice.get("finish_reason"):
                stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        if chunk.get("usage"):
            counted = usage(chunk["usage"])

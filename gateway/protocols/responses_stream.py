"""The gateway's chat stream as the Responses API's typed events.

    response.created, response.in_progress,
    for the text:  response.output_item.added, response.content_part.added, response.output_text.delta*,
                   response.output_text.done, response.content_part.done, response.output_item.done
    per tool call: response.output_item.added, response.function_call_arguments.delta*,
                   response.function_call_arguments.done, response.output_item.done
    response.completed (with usage)

A stream that breaks after its first byte ends with an `error` event and no `response.completed`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from gateway import sse
from gateway.protocols import events, responses


class _Writer:
    """Numbers the events (`sequence_number`) and keeps the output items as they are built."""

    def __init__(self, response_id: str) -> None:
        self.rid = response_id
        self.seq = 0
        self.items: list[dict[str, Any]] = []
        self.text: dict[str, Any] | None = None
        self.calls: dict[int, dict[str, Any]] = {}

    def event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return sse.event(kind, payload)

    def text_delta(self, delta: str) -> list[bytes]:
        out = []
        if self.text is None:
            self.text = responses.message_item(self.rid, "", "in_progress")
            self.items.append(self.text)
            out.append(self.event("response.output_item.added", output_index=len(self.items) - 1, item=self.text))
            out.append(self.event("response.content_part.added", item_id=self.text["id"],
                                  output_index=len(self.items) - 1, content_index=0,
                                  part={"type": "output_text", "text": "", "annotations": []}))
            self.text["buffer"] = ""
        self.text["buffer"] += delta
        out.append(self.event("response.output_text.delta", item_id=self.text["id"],
                              output_index=self.items.index(self.text), content_index=0, delta=delta, logprobs=[]))
        return out

    def call_delta(self, call: Mapping[str, Any]) -> list[bytes]:
        out = []
        fn = call.get("function") or {}
        item = self.calls.get(call.get("index", 0))
        if item is None:
            item = {"type": "function_call", "id": f"fc_{self.rid[5:]}_{len(self.calls)}",
                    "call_id": call.get("id") or "", "name": fn.get("name") or "", "arguments": "",
                    "status": "in_progress"}
            self.calls[call.get("index", 0)] = item
            self.items.append(item)
            out.append(self.event("response.output_item.added", output_index=len(self.items) - 1, item=dict(item)))
        if fn.get("arguments"):
            item["arguments"] += fn["arguments"]
            out.append(self.event("response.function_call_arguments.delta", item_id=item["id"],
                                  output_index=self.items.index(item), delta=fn["arguments"]))
        return out

    def close_items(self) -> list[bytes]:
        out = []
        for index, item in enumerate(self.items):
            if item["type"] == "message":
                text = item.pop("buffer", "")
                done = responses.message_item(self.rid, text, "completed")
                item.update(done)
                part = done["content"][0]
                out.append(self.event("response.output_text.done", item_id=item["id"], output_index=index,
                                      content_index=0, text=text, logprobs=[]))
                out.append(self.event("response.content_part.done", item_id=item["id"], output_index=index,
                                      content_index=0, part=part))
            else:
                item["status"] = "completed"
                out.append(self.event("response.function_call_arguments.done", item_id=item["id"],
                                      output_index=index, arguments=item["arguments"], name=item["name"]))
            out.append(self.event("response.output_item.done", output_index=index, item=item))
        return out


Completed = Callable[[list[dict[str, Any]]], Awaitable[None]]


async def render(stream: AsyncGenerator[bytes, None], *, body: Mapping[str, Any], response_id: str, model: str,
                 completed: Completed) -> AsyncGenerator[bytes, None]:
    writer = _Writer(response_id)
    response = responses.envelope(body, response_id, model, "in_progress")
    yield writer.event("response.created", response=response)
    yield writer.event("response.in_progress", response=response)
    finish_reason, usage = None, None
    async for chunk in events.chunks(stream):
        if chunk is events.DONE:
            for data in writer.close_items():
                yield data
            final = {**response, "output": writer.items, "usage": responses.usage(usage)}
            responses.finish(final, finish_reason)
            await completed(writer.items)
            yield writer.event("response.completed", response=final)
            return
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {}
            yield writer.event("error", code=error.get("code"), message=error.get("message") or "stream failed",
                               param=error.get("param"))
            return
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                for data in writer.text_delta(delta["content"]):
                    yield data
            for call in delta.get("tool_calls") or []:
                for data in writer.call_delta(call):
                    yield data
            finish_reason = choice.get("finish_reason") or finish_reason
        if chunk.get("usage"):
            usage = chunk["usage"]

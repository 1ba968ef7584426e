"""Anthropic-compatible `/v1/messages` (whole and streamed), with system prompt, tools,
`max_tokens` and `stop_sequences`. litellm's `anthropic/<model>` provider works against it when
pointed at `api_base=http://HOST:PORT`."""

from __future__ import annotations

import json
from typing import Any

import orjson

from simulator.chat import ChatRequest, Choice, Completion, Tool, compose, prompt_chars
from simulator.errors import bad_request
from simulator.faults import StreamCutError, StreamWriter
from simulator.openai_chat import content_text
from simulator.service import Admitted, Exchange, admit, int_field, model_name, pause, token_delay

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _block_text(block: object) -> str:
    if not isinstance(block, dict):
        return ""
    if block.get("type") == "tool_result":
        return content_text(block.get("content"))
    if block.get("type") == "tool_use":
        return json.dumps(block.get("input", {}))
    text = block.get("text")
    return text if isinstance(text, str) else ""


def _message_text(content: object) -> str:
    if isinstance(content, list):
        return " ".join(_block_text(b) for b in content)
    return content_text(content)


def parse_messages(body: dict[str, Any]) -> ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise bad_request("messages: must be a non-empty list of message objects", param="messages")
    texts = [_message_text(m.get("content")) for m in messages]
    users = [t for m, t in zip(messages, texts, strict=True) if m.get("role") == "user"]
    system = _message_text(body.get("system"))
    last = messages[-1].get("content")
    stops = body.get("stop_sequences")
    return ChatRequest(
        model=model_name(body), texts=(system, *texts) if system else tuple(texts),
        last_user=users[-1] if users else texts[-1],
        last_is_tool_result=isinstance(last, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in last),
        tools=_tools(body.get("tools")), tool_choice=_tool_choice(body.get("tool_choice")),
        stop=tuple(s for s in stops if isinstance(s, str)) if isinstance(stops, list) else (),
        max_tokens=int_field(body, "max_tokens", minimum=1),
    )


def _tools(raw: object) -> tuple[Tool, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(Tool(str(t["name"]), _schema(t.get("input_schema")))
                 for t in raw if isinstance(t, dict) and isinstance(t.get("name"), str))


def _schema(raw: object) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _tool_choice(raw: object) -> str:
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "tool" and isinstance(raw, dict) and isinstance(raw.get("name"), str):
        return "tool:" + str(raw["name"])
    return {"any": "required", "none": "none"}.get(kind or "", "auto")


def _content(choice: Choice) -> dict[str, Any]:
    if choice.tool_call is None:
        return {"type": "text", "text": choice.text or ""}
    call = choice.tool_call
    return {"type": "tool_use", "id": "toolu_" + call.id.removeprefix("call_"), "name": call.name,
            "input": json.loads(call.arguments)}


def _stop(choice: Choice) -> dict[str, Any]:
    reason = "stop_sequence" if choice.stop_sequence else _STOP_REASONS[choice.finish]
    return {"stop_reason": reason, "stop_sequence": choice.stop_sequence}


def message_body(completion: Completion, model: str) -> dict[str, Any]:
    choice = completion.choices[0]
    return {"id": "msg_" + completion.id_hex, "type": "message", "role": "assistant", "model": model,
            "content": [_content(choice)], **_stop(choice),
            "usage": {"input_tokens": completion.prompt_tokens, "output_tokens": choice.tokens}}


async def messages(exchange: Exchange) -> None:
    body = exchange.json()
    request = parse_messages(body)
    stream = body.get("stream") is True
    admitted = await admit(exchange, request.model, endpoint="messages", stream=stream,
                           prompt_chars=prompt_chars(request))
    if admitted is None:
        return
    completion = compose(request, admitted.model.model, exchange.runtime.config.seed)
    if not stream:
        await pause(completion.completion_tokens * token_delay(admitted))
        await exchange.responder.json(200, message_body(completion, admitted.name))
        return
    writer = StreamWriter(exchange.responder, admitted.fault, coalesce=token_delay(admitted) == 0)
    await writer.start()
    try:
        await _stream(writer, completion, admitted)
    except StreamCutError:
        return


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


async def _stream(writer: StreamWriter, completion: Completion, admitted: Admitted) -> None:
    choice = completion.choices[0]
    start = {**message_body(completion, admitted.name), "content": [], "stop_reason": None,
             "stop_sequence": None, "usage": {"input_tokens": completion.prompt_tokens, "output_tokens": 1}}
    await writer.send(_event("message_start", {"message": start}))
    block = _content(choice)
    opening = {**block, "input": {}} if choice.tool_call else {**block, "text": ""}
    await writer.send(_event("content_block_start", {"index": 0, "content_block": opening}))
    delay = token_delay(admitted)
    for piece in choice.pieces():
        await pause(delay)
        delta = ({"type": "input_json_delta", "partial_json": piece} if choice.tool_call
                 else {"type": "text_delta", "text": piece})
        await writer.send(_event("content_block_delta", {"index": 0, "delta": delta}))
    await writer.send(_event("content_block_stop", {"index": 0}))
    await writer.send(_event("message_delta", {"delta": _stop(choice),
                                               "usage": {"output_tokens": choice.tokens}}))
    await writer.send(_event("message_stop", {}))
    await writer.close()

"""The OpenAI Chat Completions wire format: request parsing and response/chunk rendering."""

from __future__ import annotations

from typing import Any

from simulator.chat import ChatRequest, Choice, Completion, Tool
from simulator.errors import bad_request
from simulator.service import int_field, model_name


def content_text(content: object) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content
                        if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def parse_chat(body: dict[str, Any]) -> ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise bad_request("'messages' must be a non-empty list of message objects.", param="messages")
    texts = tuple(content_text(m.get("content")) for m in messages)
    users = [t for m, t in zip(messages, texts, strict=True) if m.get("role") == "user"]
    n = int_field(body, "n", minimum=1) or 1
    max_tokens = int_field(body, "max_completion_tokens", minimum=1)
    if max_tokens is None:
        max_tokens = int_field(body, "max_tokens", minimum=1)
    schema, json_object = _response_format(body.get("response_format"))
    seed = body.get("seed")
    return ChatRequest(
        model=model_name(body), texts=texts, last_user=users[-1] if users else texts[-1],
        last_is_tool_result=messages[-1].get("role") in ("tool", "function"),
        tools=_tools(body.get("tools")), tool_choice=_tool_choice(body.get("tool_choice")),
        json_schema=schema, json_object=json_object, stop=_stop(body.get("stop")),
        seed=seed if isinstance(seed, int) else None, n=n, max_tokens=max_tokens,
    )


def _tools(raw: object) -> tuple[Tool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad_request("'tools' must be a list.", param="tools")
    tools = []
    for entry in raw:
        fn = entry.get("function") if isinstance(entry, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise bad_request("Each tool needs a function with a name.", param="tools")
        params = fn.get("parameters")
        tools.append(Tool(fn["name"], params if isinstance(params, dict) else {}))
    return tuple(tools)


def _tool_choice(raw: object) -> str:
    if isinstance(raw, dict):
        fn = raw.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return "tool:" + str(fn["name"])
        return "required"
    return raw if isinstance(raw, str) and raw in ("none", "auto", "required") else "auto"


def _response_format(raw: object) -> tuple[dict[str, Any] | None, bool]:
    if not isinstance(raw, dict):
        return None, False
    if raw.get("type") == "json_schema":
        spec = raw.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return (schema if isinstance(schema, dict) else {"type": "object"}), False
    return None, raw.get("type") == "json_object"


def _stop(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list):
        return tuple(s for s in raw if isinstance(s, str))
    return ()


def usage(completion: Completion) -> dict[str, int]:
    done = completion.completion_tokens
    return {"prompt_tokens": completion.prompt_tokens, "completion_tokens": done,
            "total_tokens": completion.prompt_tokens + done}


def message(choice: Choice) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": choice.text, "refusal": None}
    if choice.tool_call is not None:
        call = choice.tool_call
        msg["tool_calls"] = [{"id": call.id, "type": "function",
                              "function": {"name": call.name, "arguments": call.arguments}}]
    return msg


def completion_body(completion: Completion, model: str, created: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + completion.id_hex, "object": "chat.completion", "created": created,
        "model": model, "system_fingerprint": "fp_turnout_sim",
        "choices": [{"index": c.index, "message": message(c), "logprobs": None, "finish_reason": c.finish}
                    for c in completion.choices],
        "usage": usage(completion),
    }


def first_delta(choice: Choice) -> dict[str, Any]:
    if choice.tool_call is None:
        return {"role": "assistant", "content": ""}
    call = choice.tool_call
    return {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]}


def piece_delta(choice: Choice, piece: str) -> dict[str, Any]:
    if choice.tool_call is None:
        return {"content": piece}
    return {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}

"""OpenAI's Responses API at the gateway edge: `to_chat` (request in) and `from_chat` (answer out).

A `/v1/responses` body becomes the gateway's chat completion body (after the stored conversation of
`previous_response_id`, when given), so it takes the whole request path; the answer comes back as a
`response` object. Fields this edge does not carry answer a 400 naming them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from router.errors import RequestError

KNOWN = frozenset({"model", "input", "instructions", "tools", "tool_choice", "text", "max_output_tokens",
                   "temperature", "top_p", "stream", "previous_response_id", "store", "metadata", "user",
                   "parallel_tool_calls", "truncation", "include", "stream_options"})
_ROLES = frozenset({"user", "system", "developer", "assistant"})


def _bad(param: str, message: str) -> RequestError:
    return RequestError(f"{param}: {message}", param=param)


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text") and isinstance(part, dict) and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if kind == "refusal" and isinstance(part, dict):
        return {"type": "text", "text": str(part.get("refusal", ""))}
    if kind == "input_image" and isinstance(part, dict) and isinstance(part.get("image_url"), str):
        return {"type": "image_url", "image_url": {"url": part["image_url"], "detail": part.get("detail", "auto")}}
    raise _bad(f"{where}.type", f"unsupported content part {kind!r}")


def _content(content: Any, role: str, where: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad(where, "must be a string or a list of content parts")
    parts = [_part(p, f"{where}[{j}]") for j, p in enumerate(content)]
    if role != "user" or all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts if p["type"] == "text")
    return parts


def _items(items: Sequence[Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise _bad(where, "must be an input item object")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if not isinstance(role, str) or role not in _ROLES:
                raise _bad(f"{where}.role", f"must be one of {', '.join(sorted(_ROLES))}")
            messages.append({"role": role, "content": _content(item.get("content"), role, f"{where}.content")})
        elif kind == "function_call":
            if not all(isinstance(item.get(k), str) for k in ("call_id", "name", "arguments")):
                raise _bad(where, "a function_call item needs call_id, name and arguments (strings)")
            call = {"id": item["call_id"], "type": "function",
                    "function": {"name": item["name"], "arguments": item["arguments"]}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and last.get("tool_calls"):
                last["tool_calls"].append(call)  # parallel calls: one assistant message
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise _bad(f"{where}.call_id", "is required")
            output = item.get("output")
            text = output if isinstance(output, str) else _content(output, "tool", f"{where}.output")
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
        else:
            raise _bad(f"{where}.type", f"unsupported input item type {kind!r}")
    return messages


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _bad("tools", "must be a list of tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("name"), str):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise _bad(f"tools[{i}].type", f"only function tools are supported (got {kind!r})")
        fn = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise _bad("tool_choice", "must be 'auto', 'none', 'required' or {\"type\": \"function\", \"name\"}")


def _format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema" and isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict):
        spec = {"name": fmt.get("name") or "response", "schema": fmt["schema"]}
        if fmt.get("strict") is not None:
            spec["strict"] = fmt["strict"]
        return {"type": "json_schema", "json_schema": spec}
    raise _bad("text.format", "must be {\"type\": \"text\" | \"json_object\"} or {\"type\": \"json_schema\", "
               "\"name\", \"schema\"}")


def conversation(body: Mapping[str, Any], history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation so far (without instructions): the stored one, then this request's input."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [*history, {"role": "user", "content": raw}]
    if isinstance(raw, list) and raw:
        return [*history, *_items(raw)]
    raise _bad("input", "is required: a string or a non-empty list of input items" if raw is None else
               "must be a string or a non-empty list of input items")


def check(body: Mapping[str, Any]) -> None:
    """Reject what this edge does not carry, naming it (before anything is looked up)."""
    unknown = sorted(k for k in body if k not in KNOWN and body[k] is not None)
    if unknown:
        raise _bad(unknown[0], f"unsupported parameter(s) on /v1/responses: {', '.join(unknown)}")
    if body.get("truncation") not in (None, "disabled"):
        raise _bad("truncation", "only 'disabled' is supported")
    if body.get("include"):
        raise _bad("include", "no extra output is supported")
    tokens = body.get("max_output_tokens")
    if tokens is not None and (not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1):
        raise _bad("max_output_tokens", "must be a positive integer")
    if body.get("previous_response_id") is not None and not isinstance(body["previous_response_id"], str):
        raise _bad("previous_response_id", "must be a string")


def to_chat(body: Mapping[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat completion body: instructions as the system message, then the conversation."""
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise _bad("instructions", "must be a string")
    chat: dict[str, Any] = {"model": body.get("model"),
                            "messages": [{"role": "system", "content": instructions}, *messages]
                            if instructions else list(messages)}
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    for key in ("temperature", "top_p", "user", "parallel_tool_calls"):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    response_format = _format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def usage(chat_usage: Mapping[str, Any] | None) -> dict[str, Any]:
    chat_usage = chat_usage or {}
    prompt, completion = int(chat_usage.get("prompt_tokens") or 0), int(chat_usage.get("completion_tokens") or 0)
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": prompt + completion}


def output_items(text: str | None, calls: Sequence[Mapping[str, Any]], response_id: str) -> list[dict[str, Any]]:
    """The `output` list: a message with the text, then one `function_call` item per tool call."""
    out: list[dict[str, Any]] = []
    if text:
        out.append(message_item(response_id, text, "completed"))
    for i, call in enumerate(calls):
        fn = call.get("function") or {}
        out.append({"type": "function_call", "id": f"fc_{response_id[5:]}_{i}", "call_id": call.get("id") or "",
                    "name": fn.get("name") or "", "arguments": fn.get("arguments") or "", "status": "completed"})
    return out


def message_item(response_id: str, text: str, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if status == "completed" else []
    return {"type": "message", "id": f"msg_{response_id[5:]}", "status": status, "role": "assistant",
            "content": content}


def envelope(body: Mapping[str, Any], response_id: str, model: str | None, status: str) -> dict[str, Any]:
    """The `response` object around an output (echoing the request's settings, as OpenAI does)."""
    return {"id": response_id, "object": "response", "created_at": int(time.time()), "status": status,
            "model": model or body.get("model"), "output": [], "usage": None, "error": None,
            "incomplete_details": None, "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"), "temperature": body.get("temperature"),
            "top_p": body.get("top_p"), "tools": body.get("tools") or [],
            "tool_choice": body.get("tool_choice", "auto"),
            "parallel_tool_calls": body.get("parallel_tool_calls", True), "text": body.get("text") or
            {"format": {"type": "text"}}, "previous_response_id": body.get("previous_response_id"),
            "metadata": body.get("metadata") or {}, "store": body.get("store", True), "truncation": "disabled"}


def finish(response: dict[str, Any], finish_reason: str | None) -> None:
    if finish_reason == "length":
        response["status"], response["incomplete_details"] = "incomplete", {"reason": "max_output_tokens"}
    elif finish_reason == "content_filter":
        response["status"], response["incomplete_details"] = "incomplete", {"reason": "content_filter"}
    else:
        response["status"] = "completed"


def from_chat(body: Mapping[str, Any], result: Mapping[str, Any], response_id: str) -> dict[str, Any]:
    """A chat completion as a `response` object."""
    choice = (result.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    response = envelope(body, response_id, result.get("model"), "completed")
    response["output"] = output_items(msg.get("content"), msg.get("tool_calls") or [], response_id)
    response["usage"] = usage(result.get("usage"))
    finish(response, choice.get("finish_reason"))
    return response


def assistant_message(output: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The answer as the chat message stored for `previous_response_id`."""
    text = "".join(c.get("text", "") for item in output if item.get("type") == "message"
                   for c in item.get("content") or [])
    calls = [{"id": item["call_id"], "type": "function", "function": {"name": item["name"],
                                                                       "arguments": item["arguments"]}}
             for item in output if item.get("type") == "function_call"]
    return {"role": "assistant", "content": text or None, **({"tool_calls": calls} if calls else {})}


"""Anthropic's Messages API at the gateway edge: `to_chat` (request in) and `from_chat` (answer out).

A `/v1/messages` body becomes the gateway's chat completion body, so it takes the whole request path
(keys, limits, cache, routing by alias, fallback, metering); the answer comes back as a `message`.
Errors leave in Anthropic's shape, `{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gateway.protocols.events import tool_arguments
from router.errors import RequestError, TurnoutError

KNOWN = frozenset({"model", "messages", "system", "max_tokens", "stop_sequences", "stream", "temperature",
                   "top_p", "tools", "tool_choice", "metadata"})
IGNORED = frozenset({"top_k", "thinking", "service_tier", "anthropic_version", "context_management"})
"""Sent by today's clients (Claude Code among them); no chat-completions equivalent, so left out."""

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                503: "overloaded_error", 529: "overloaded_error"}


def error_body(exc: TurnoutError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(exc.status, "api_error"), "message": exc.message}}


def _bad(param: str, message: str) -> RequestError:
    return RequestError(f"{param}: {message}", param=param)


def _text_of(value: Any, where: str) -> str:
    """A string, or a list of text blocks joined (system prompts, tool results)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for i, block in enumerate(value):
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise _bad(f"{where}[{i}]", "must be a text block")
            parts.append(block["text"])
        return "\n".join(parts)
    raise _bad(where, "must be a string or a list of text blocks")


def _image(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source, dict):
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif kind == "url" and isinstance(source, dict) and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise _bad(f"{where}.source", "must be {\"type\": \"base64\", ...} or {\"type\": \"url\", ...}")
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_result(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(block.get("tool_use_id"), str):
        raise _bad(f"{where}.tool_use_id", "is required")
    content = block.get("content", "")
    if isinstance(content, list):  # text blocks (images in tool results are not carried)
        content = [c for c in content if isinstance(c, dict) and c.get("type") == "text"]
    text = _text_of(content, f"{where}.content")
    if block.get("is_error"):
        text = f"[tool error] {text}"
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": text}


def _tool_use(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
        raise _bad(where, "a tool_use block needs an id and a name")
    arguments = orjson.dumps(block.get("input") or {}).decode()
    return {"id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": arguments}}


def _block(role: str, block: Any, at: str, parts: list[dict[str, Any]], calls: list[dict[str, Any]],
           results: list[dict[str, Any]]) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(block, dict):
        pass
    elif kind == "text" and isinstance(block.get("text"), str):
        return parts.append({"type": "text", "text": block["text"]})
    elif kind == "image":
        return parts.append(_image(block, at))
    elif kind == "tool_use" and role == "assistant":
        return calls.append(_tool_use(block, at))
    elif kind == "tool_result" and role == "user":
        return results.append(_tool_result(block, at))
    elif kind in ("thinking", "redacted_thinking") and role == "assistant":
        return None  # the model's own reasoning from an earlier turn: not sent on
    raise _bad(f"{at}.type", f"unsupported content block {kind!r} in a {role} message")


def _message(i: int, msg: Any) -> list[dict[str, Any]]:
    """One Anthropic message as chat messages: tool results become `tool` messages before the rest."""
    where = f"messages[{i}]"
    if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
        raise _bad(f"{where}.role", "must be 'user' or 'assistant'")
    role, content = msg["role"], msg.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}.content", "must be a string or a list of content blocks")
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []  # tool results first
    for j, block in enumerate(content):
        _block(role, block, f"{where}.content[{j}]", parts, calls, out)
    if role == "assistant":
        text = "".join(p["text"] for p in parts if p["type"] == "text")
        if text or calls:
            out.append({"role": "assistant", "content": text or None, **({"tool_calls": calls} if calls else {})})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _bad("tools", "must be a list of tools")
    out = []
    for i, tool in enumerate(tools):
        custom = isinstance(tool, dict) and tool.get("type", "custom") == "custom"
        if not custom or not isinstance(tool.get("name"), str):
            raise _bad(f"tools[{i}]", "only client tools ({\"name\", \"input_schema\"}) are supported")
        fn: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
        if isinstance(tool.get("description"), str):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any, chat: dict[str, Any]) -> None:
    kind = choice.get("type") if isinstance(choice, dict) and isinstance(choice.get("type"), str) else None
    mapped: dict[str, Callable[[], Any]] = {
        "auto": lambda: "auto", "any": lambda: "required", "none": lambda: "none",
        "tool": lambda: {"type": "function", "function": {"name": choice.get("name")}}}
    if kind not in mapped or (kind == "tool" and not isinstance(choice.get("name"), str)):
        raise _bad("tool_choice", "must be {\"type\": \"auto\" | \"any\" | \"none\"} or {\"type\": \"tool\", \"name\"}")
    chat["tool_choice"] = mapped[kind]()
    if choice.get("disable_parallel_tool_use") and kind != "none":
        chat["parallel_tool_calls"] = False


def _check(body: Mapping[str, Any]) -> None:
    unknown = sorted(k for k in body if k not in KNOWN and k not in IGNORED)
    if unknown:
        raise _bad(unknown[0], f"unsupported parameter(s): {', '.join(unknown)}")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _bad("max_tokens", "is required: a positive integer" if max_tokens is None else
                   f"must be a positive integer, not {orjson.dumps(max_tokens, default=str).decode()[:40]}")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise _bad("messages", "must be a non-empty list")
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or len(stops) > 4
                              or not all(isinstance(s, str) for s in stops)):
        raise _bad("stop_sequences", "must be a list of up to 4 strings")
    temperature = body.get("temperature")
    if temperature is not None and (not isinstance(temperature, (int, float)) or not 0 <= temperature <= 1):
        raise _bad("temperature", "must be a number from 0 to 1")


def to_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    """The chat completion body for a Messages API body (raises `RequestError` naming the field)."""
    _check(body)
    messages: list[dict[str, Any]] = []
    if body.get("system") is not None:
        messages.append({"role": "system", "content": _text_of(body["system"], "system")})
    for i, msg in enumerate(body["messages"]):
        messages.extend(_message(i, msg))
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages, "max_tokens": body["max_tokens"]}
    if body.get("stop_sequences"):
        chat["stop"] = body["stop_sequences"]
    chat.update((k, body[k]) for k in ("temperature", "top_p") if body.get(k) is not None)
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], chat)
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        chat["user"] = metadata["user_id"]
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def usage(chat_usage: Mapping[str, Any] | None) -> dict[str, int]:
    chat_usage = chat_usage or {}
    return {"input_tokens": int(chat_usage.get("prompt_tokens") or 0),
            "output_tokens": int(chat_usage.get("completion_tokens") or 0)}


def from_chat(result: Mapping[str, Any], message_id: str) -> dict[str, Any]:
    """A chat completion as an Anthropic `message`."""
    choice = (result.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if msg.get("content"):
        content.append({"type": "text", "text": msg["content"]})
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                        "input": tool_arguments(fn.get("arguments") or "")})
    return {"id": message_id, "type": "message", "role": "assistant", "model": result.get("model"),
            "content": content, "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
            "stop_sequence": None, "usage": usage(result.get("usage"))}

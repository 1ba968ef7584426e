"""OpenAI request validation on plain dicts: fast, and every message names the offending field.

Bodies stay dicts (no pydantic round trip on the hot path); a validated body is passed on as is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gateway.errors import ForbiddenParameter
from router.errors import RequestError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Provider overrides a client may never set: they would let a caller choose where, and with which
# credentials, Turnout connects.
FORBIDDEN = frozenset({
    "api_base", "api_key", "base_url", "custom_llm_provider", "api_version", "organization",
    "extra_headers", "headers", "azure_ad_token", "azure_ad_token_provider", "aws_access_key_id",
    "aws_secret_access_key", "aws_session_token", "aws_region_name", "aws_profile_name",
    "vertex_credentials", "vertex_project", "vertex_location", "input_cost_per_token",
    "output_cost_per_token", "mock_response", "proxy_server_request", "litellm_params", "model_list",
    "deployment_id", "client", "http_client",
})
FORBIDDEN_PREFIXES = ("litellm_", "aws_", "vertex_", "azure_")
MAX_DEPTH = 64
"""Objects and lists nest at most this deep in a body (the parser takes 1,024, serialisers stop at
255: refused here, with a 400 naming the field, instead of failing later)."""
PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})


def _bad(param: str, message: str) -> RequestError:
    return RequestError(f"{param}: {message}", param=param)


THREAD_BYTES = 256 * 1024
"""A body this large is parsed in a thread: its parse and depth walk (~0.3 s at 4 MB of small objects)
would otherwise hold the event loop, and every other tenant's requests, for all of it."""


async def read_json_object(raw: bytes) -> dict[str, Any]:
    """`parse_json_object`, off the event loop for a body over `THREAD_BYTES`."""
    if len(raw) > THREAD_BYTES:
        return await asyncio.to_thread(parse_json_object, raw)
    return parse_json_object(raw)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise RequestError("the request body is empty; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError("the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:  # cheap: only a body with that many can nest so deep
        where = _too_deep(body)
        if where is not None:
            raise _bad(where, f"nested deeper than {MAX_DEPTH} levels")
    return body


def _too_deep(body: dict[str, Any]) -> str | None:
    """The top-level field holding a value nested deeper than `MAX_DEPTH`, or None."""
    stack: list[tuple[Any, str, int]] = [(v, k, 2) for k, v in body.items()]
    while stack:
        value, field, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_DEPTH:
            return field
        if isinstance(value, dict):
            stack.extend((v, field, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, field, depth + 1) for v in value)
    return None


def _check_forbidden(body: Mapping[str, Any]) -> None:
    for key in body:
        if key in FORBIDDEN or key.startswith(FORBIDDEN_PREFIXES):
            raise ForbiddenParameter(f"{key}: clients may not set provider overrides; upstreams are "
                                     f"configured in the Turnout policy", param=key)


def _int(lo: int, hi: int) -> Callable[[str, Any], None]:
    def check(param: str, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise _bad(param, f"must be an integer from {lo} to {hi}")
    return check


def _num(lo: float, hi: float) -> Callable[[str, Any], None]:
    def check(param: str, value: Any) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
            raise _bad(param, f"must be a number from {lo:g} to {hi:g}")
    return check


def _bool(param: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _bad(param, "must be a boolean")


def _str(param: str, value: Any) -> None:
    if not isinstance(value, str):
        raise _bad(param, "must be a string")


def _stop(param: str, value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or len(value) > 4 or not all(isinstance(s, str) for s in value):
        raise _bad(param, "must be a string or a list of up to 4 strings")


def _tools(param: str, value: Any) -> None:
    if not isinstance(value, list):
        raise _bad(param, "must be a list of tools")
    for i, tool in enumerate(value):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or tool.get("type", "function") != "function":
            raise _bad(f"{param}[{i}]", "must be {\"type\": \"function\", \"function\": {...}}")
        if not isinstance(fn.get("name"), str) or not fn["name"]:
            raise _bad(f"{param}[{i}].function.name", "is required")
        if "parameters" in fn and not isinstance(fn["parameters"], dict):
            raise _bad(f"{param}[{i}].function.parameters", "must be a JSON Schema object")


def _tool_choice(param: str, value: Any) -> None:
    if value in ("none", "auto", "required"):
        return
    fn = value.get("function") if isinstance(value, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise _bad(param, "must be 'none', 'auto', 'required' or "
                   "{\"type\": \"function\", \"function\": {\"name\": ...}}")


def _response_format(param: str, value: Any) -> None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise _bad(f"{param}.type", "must be 'text', 'json_object' or 'json_schema'")
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise _bad(f"{param}.json_schema", "must be an object with a 'name' and a 'schema'")
        if "schema" in spec and not isinstance(spec["schema"], dict):
            raise _bad(f"{param}.json_schema.schema", "must be a JSON Schema object")


def _object(param: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise _bad(param, "must be an object")


CHAT_FIELDS: dict[str, Callable[[str, Any], None]] = {
    "stream": _bool, "n": _int(1, 16), "max_tokens": _int(1, 1_000_000),
    "max_completion_tokens": _int(1, 1_000_000), "temperature": _num(0, 2), "top_p": _num(0, 1),
    "presence_penalty": _num(-2, 2), "frequency_penalty": _num(-2, 2), "seed": _int(-(2**63), 2**63 - 1),
    "stop": _stop, "tools": _tools, "tool_choice": _tool_choice, "response_format": _response_format,
    "user": _str, "stream_options": _object, "logprobs": _bool, "top_logprobs": _int(0, 20),
    "parallel_tool_calls": _bool, "logit_bias": _object, "metadata": _object,
}


def _part(where: str, part: Any) -> None:
    """One content part: a known type, and the field of that type with the right type."""
    if not isinstance(part, dict) or not isinstance(part.get("type"), str) or part["type"] not in PART_TYPES:
        raise _bad(f"{where}.type", f"must be a content part of type {', '.join(sorted(PART_TYPES))}")
    kind = part["type"]
    if kind in ("text", "refusal"):
        if not isinstance(part.get(kind), str):
            raise _bad(f"{where}.{kind}", "must be a string")
        return
    value = part.get(kind)
    if kind == "image_url" and isinstance(value, dict) and not isinstance(value.get("url"), str):
        raise _bad(f"{where}.image_url.url", "must be a string")
    if not isinstance(value, dict):
        raise _bad(f"{where}.{kind}", "must be an object")


def _tool_calls(where: str, calls: Any) -> None:
    """An assistant's earlier tool calls, as the upstream will read them: id, function name, arguments."""
    if not isinstance(calls, list):
        raise _bad(where, "must be a list of tool calls")
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(call.get("id"), str) or not isinstance(function, dict):
            raise _bad(f"{where}[{j}]", "must be an object with an id and a function")
        if not isinstance(function.get("name"), str) or not isinstance(function.get("arguments", ""), str):
            raise _bad(f"{where}[{j}].function", "must have a name and arguments (a JSON string)")


def _message(i: int, msg: Any) -> None:
    where = f"messages[{i}]"
    if not isinstance(msg, dict):
        raise _bad(where, "must be an object with a role and content")
    role = msg.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise _bad(f"{where}.role", f"must be one of {', '.join(sorted(ROLES))}")
    if msg.get("tool_calls") is not None:
        _tool_calls(f"{where}.tool_calls", msg["tool_calls"])
    if msg.get("function_call") is not None and not (isinstance(msg["function_call"], dict)
                                                     and isinstance(msg["function_call"].get("name"), str)):
        raise _bad(f"{where}.function_call", "must be an object with a name")
    content = msg.get("content")
    if content is None:
        if role == "assistant" and (msg.get("tool_calls") or msg.get("function_call")):
            return
        raise _bad(f"{where}.content", "is required")
    if isinstance(content, list):
        for j, part in enumerate(content):
            _part(f"{where}.content[{j}]", part)
    elif not isinstance(content, str):
        raise _bad(f"{where}.content", "must be a string or a list of content parts")
    if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
        raise _bad(f"{where}.tool_call_id", "is required for tool messages")


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise _bad("model", "is required")
    if not isinstance(model, str) or not model:
        raise _bad("model", "must be a non-empty string")
    return model


def validate_chat(body: dict[str, Any]) -> str:
    """Check a chat completion body in place; return the requested model."""
    _check_forbidden(body)
    model = _model(body)
    messages = body.get("messages")
    if messages is None:
        raise _bad("messages", "is required")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "must be a non-empty list")
    for i, msg in enumerate(messages):
        _message(i, msg)
    for key, value in body.items():  # the fields present (a handful), not every field known
        check = CHAT_FIELDS.get(key)
        if check is not None and value is not None:
            check(key, value)
    if body.get("stream_options") is not None and not body.get("stream"):
        raise _bad("stream_options", "is only allowed when stream is true")
    return model


def validate_embeddings(body: dict[str, Any]) -> str:
    _check_forbidden(body)
    model = _model(body)
    data = body.get("input")
    if data is None:
        raise _bad("input", "is required")
    ok = (isinstance(data, str) and data) or (
        isinstance(data, list) and data and (
            all(isinstance(x, str) and x for x in data)
            or all(isinstance(x, int) for x in data)
            or all(isinstance(x, list) and x and all(isinstance(t, int) for t in x) for x in data)))
    if not ok:
        raise _bad("input", "must be a non-empty string, a list of non-empty strings, or token arrays")
    if len(data) > 2048 and isinstance(data, list):
        raise _bad("input", "at most 2048 inputs per request")
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in ("float", "base64"):
        raise _bad("encoding_format", "must be 'float' or 'base64'")
    if body.get("dimensions") is not None:
        _int(1, 65536)("dimensions", body["dimensions"])
    return model

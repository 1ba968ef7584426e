"""OpenAI-compatible HTTP failures -> our error tree: the direct adapter's one translation boundary.

    status_error(status, body, headers)      an HTTP error answer (its status and OpenAI error body)
    transport_error(exc)                     an aiohttp / http1 / socket / timeout exception
    stream_error(payload)                    an `{"error": ...}` event inside a stream

Most specific match first, as `router.upstream.litellm_adapter.map_exception` does for litellm, with
the same codes, so a client cannot tell which adapter served it. Messages name the model id from our
policy, never the upstream URL, the key or the upstream's own message (which may echo either).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from router.errors import (
    ContentPolicyViolation,
    ContextWindowExceeded,
    RateLimited,
    RequestError,
    TurnoutError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from router.upstream.http1 import BodyCutShort

_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_CONTEXT_PHRASES = ("context length", "context window", "maximum context", "too many tokens",
                    "prompt is too long", "input is too long", "reduce the length")
_POLICY_CODES = frozenset({"content_policy_violation", "content_filter"})
_POLICY_PHRASES = ("content policy", "content management policy", "safety system", "content filter")


def _error_fields(body: bytes) -> tuple[str, str]:
    """(code, message) from an OpenAI error body, lower-cased; empty strings when it is not one."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", body[:2000].decode("utf-8", "replace").lower()
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, str):
        return "", error.lower()
    if not isinstance(error, dict):
        return "", ""
    code = error.get("code")
    if not isinstance(code, str):  # vLLM puts the HTTP status here
        code = error.get("type")
    message = error.get("message")
    return (code.lower() if isinstance(code, str) else ""), (message.lower() if isinstance(message, str) else "")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` (OpenAI) or `retry-after` (seconds; an HTTP date is ignored)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def _refusal(model: str, code: str, message: str) -> TurnoutError | None:
    """A 4xx that is really "prompt too long" or "content refused", from its code or message."""
    if code in _CONTEXT_CODES or any(p in message for p in _CONTEXT_PHRASES):
        return ContextWindowExceeded(f"{model}: the prompt exceeds its context window")
    if code in _POLICY_CODES or any(p in message for p in _POLICY_PHRASES):
        return ContentPolicyViolation(f"{model}: the request was refused by content policy")
    return None


_BODY_CHECKED = frozenset({400, 403, 413})
_BY_STATUS: dict[int, Callable[[str], TurnoutError]] = {
    400: lambda m: RequestError(f"{m}: upstream rejected the request as invalid"),
    401: lambda m: UpstreamError(f"{m}: upstream rejected Turnout's credentials", code="upstream_auth_failed"),
    403: lambda m: UpstreamError(f"{m}: upstream denied the request", code="upstream_denied"),
    404: lambda m: UpstreamError(f"{m}: upstream does not know this model", code="upstream_not_found"),
    408: lambda m: UpstreamTimeout(f"{m}: upstream timed out"),
    422: lambda m: RequestError(f"{m}: upstream could not process the request"),
    500: lambda m: UpstreamError(f"{m}: upstream server error").as_suspect(),
    502: lambda m: UpstreamError(f"{m}: upstream bad gateway"),
    503: lambda m: UpstreamUnavailable(f"{m}: upstream unavailable"),
    504: lambda m: UpstreamTimeout(f"{m}: upstream timed out"),
}


def status_error(status: int, body: bytes, headers: Mapping[str, str], model_id: str) -> TurnoutError:
    """The error for an upstream answer with HTTP `status` (>= 400) and `body`."""
    model = f"model {model_id!r}"
    if status == 429:
        return RateLimited(f"{model}: upstream rate limit", retry_after=_retry_after(headers))
    if status in _BODY_CHECKED:
        refusal = _refusal(model, *_error_fields(body))
        if refusal is not None:
            return refusal
    fixed = _BY_STATUS.get(status)
    if fixed is not None:
        return fixed(model)
    if status >= 500:
        return UpstreamError(f"{model}: upstream server error")
    if status >= 400:
        return RequestError(f"{model}: upstream rejected the request ({status})")
    return invalid_response(model_id)


def stream_error(payload: Mapping[str, Any], model_id: str) -> TurnoutError:
    """An error event inside a stream (vLLM and others send `data: {"error": {...}}` mid-stream)."""
    error = payload.get("error")
    status = error.get("code") if isinstance(error, dict) else None
    body = orjson.dumps(payload)
    if isinstance(status, int) and 400 <= status < 600:
        return status_error(status, body, {}, model_id)
    code, message = _error_fields(body)
    refusal = _refusal(f"model {model_id!r}", code, message) if code else None
    return refusal or UpstreamError(f"model {model_id!r}: upstream failed mid-stream")


def invalid_response(model_id: str) -> UpstreamError:
    return UpstreamError(f"model {model_id!r}: upstream returned an invalid response",
                         code="upstream_invalid_response")


def stream_cut(model_id: str) -> UpstreamError:
    return UpstreamError(f"model {model_id!r}: upstream stream ended before [DONE]", code="upstream_stream_cut")


def transport_error(exc: BaseException, model_id: str, *, streaming: bool = False) -> TurnoutError:
    """A failure below HTTP: timeouts, refused or reset connections, a body cut short.

    Once a stream is open (`streaming`), a dropped connection is a cut stream, not an unavailable model.
    """
    model = f"model {model_id!r}"
    if isinstance(exc, TurnoutError):
        return exc
    if isinstance(exc, TimeoutError):  # asyncio timeouts and aiohttp's Server/ConnectionTimeoutError
        return UpstreamTimeout(f"{model}: upstream timed out")
    if streaming and isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError)):
        return stream_cut(model_id)
    if isinstance(exc, (aiohttp.ClientPayloadError, BodyCutShort)):
        return UpstreamError(f"{model}: upstream response was cut short", code="upstream_invalid_response")
    if isinstance(exc, (aiohttp.ClientConnectionError, OSError)):  # refused, reset, disconnected
        return UpstreamUnavailable(f"{model}: upstream connection failed")
    return invalid_response(model_id)

"""The litellm adapter: the one place where litellm is called and its exceptions become ours.

litellm's own retries and fallbacks are off; the router does those. Messages we raise name the model
id from our policy, never an upstream URL or key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

from registry import ModelSpec
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
from router.upstream.base import Chunk, UpstreamRequest, UpstreamResponse
from router.upstream.fields import NO_KEY, pass_through

log = logging.getLogger("turnout.upstream")


def load_litellm() -> ModuleType:
    """Import litellm once, offline and quiet (the packaged model cost map, no telemetry)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.drop_params = True
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    return litellm


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def map_exception(exc: BaseException, model_id: str) -> TurnoutError:
    """litellm (and its openai/httpx internals) -> our error tree. Most specific match first."""
    from litellm import exceptions as e

    name = f"model {model_id!r}"
    table: tuple[tuple[type[BaseException], TurnoutError], ...] = (
        (e.ContextWindowExceededError, ContextWindowExceeded(f"{name}: the prompt exceeds its context window")),
        (e.ContentPolicyViolationError, ContentPolicyViolation(f"{name}: the request was refused by content policy")),
        (e.RateLimitError, RateLimited(f"{name}: upstream rate limit", retry_after=_retry_after(exc))),
        (e.Timeout, UpstreamTimeout(f"{name}: upstream timed out")),
        (e.ServiceUnavailableError, UpstreamUnavailable(f"{name}: upstream unavailable")),
        (e.AuthenticationError, UpstreamError(f"{name}: upstream rejected Turnout's credentials",
                                              code="upstream_auth_failed")),
        (e.PermissionDeniedError, UpstreamError(f"{name}: upstream denied the request", code="upstream_denied")),
        (e.NotFoundError, UpstreamError(f"{name}: upstream does not know this model", code="upstream_not_found")),
        (e.BadRequestError, RequestError(f"{name}: upstream rejected the request as invalid")),
        (e.UnprocessableEntityError, RequestError(f"{name}: upstream could not process the request")),
        (e.APIConnectionError, UpstreamUnavailable(f"{name}: upstream connection failed")),
        (e.InternalServerError, UpstreamError(f"{name}: upstream server error").as_suspect()),
        (e.BadGatewayError, UpstreamError(f"{name}: upstream bad gateway")),
        (e.APIError, UpstreamError(f"{name}: upstream error").as_suspect()),
    )
    for exc_type, ours in table:
        if isinstance(exc, exc_type):
            return ours
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"{name}: upstream timed out")
    if isinstance(exc, (ConnectionError, OSError)):
        return UpstreamUnavailable(f"{name}: upstream connection failed")
    # not an API error: litellm failed to translate the request or the answer (suspect: see router.breakers)
    return UpstreamError(f"{name}: upstream returned an invalid response",
                         code="upstream_invalid_response").as_suspect()


def _call_args(request: UpstreamRequest) -> dict[str, Any]:
    spec = request.spec
    args = pass_through(request.body, request.kind)
    args["model"] = spec.litellm_model
    args["num_retries"] = 0
    args["max_retries"] = 0
    if spec.api_base:
        args["api_base"] = spec.api_base
    args["api_key"] = request.api_key or NO_KEY
    args["timeout"] = request.timeout or spec.timeouts.total
    if request.stream:
        args["stream"] = True
    return args


class LiteLLMUpstream:
    """`Upstream` over litellm's `acompletion` / `aembedding`."""

    def __init__(self) -> None:
        self._litellm = load_litellm()

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        args = _call_args(request)
        try:
            if request.kind == "embeddings":
                result = await self._litellm.aembedding(**args)
                return UpstreamResponse(body=_to_dict(result))
            result = await self._litellm.acompletion(**args)
        except Exception as exc:  # the one translation boundary
            raise self._translate(exc, request) from exc
        if request.stream:
            return UpstreamResponse(stream=self._chunks(result, request))
        return UpstreamResponse(body=_to_dict(result))

    async def _chunks(self, stream: Any, request: UpstreamRequest) -> AsyncIterator[Chunk]:
        try:
            async for chunk in stream:
                yield _to_dict(chunk)
        except Exception as exc:  # the one translation boundary
            raise self._translate(exc, request) from exc

    @staticmethod
    def _translate(exc: Exception, request: UpstreamRequest) -> TurnoutError:
        if isinstance(exc, TurnoutError):
            return exc
        mapped = map_exception(exc, request.spec.id)
        log.warning("upstream error", extra={"model": request.spec.id, "error_class": type(exc).__name__,
                                             "mapped": type(mapped).__name__})
        return mapped


def _to_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    dumped: dict[str, Any] = obj.model_dump(exclude_none=True)
    return dumped


def count_tokens(spec: ModelSpec, messages: Any) -> int:
    """Prompt tokens with the model's tokenizer as litellm knows it (tiktoken's cl100k otherwise).
    CPU-bound: call it in a thread."""
    litellm = load_litellm()
    try:
        return int(litellm.token_counter(model=spec.litellm_model.partition("/")[2], messages=messages))
    except Exception:  # noqa: BLE001 - the translation boundary: litellm knows no tokenizer for it
        return sum(len(str(m.get("content") or "")) for m in messages) // 4

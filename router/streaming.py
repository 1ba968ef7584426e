"""Streams: read up to the first content chunk (inside the fallback loop), then relay the rest.

`open_first` runs under the attempt's first-token timeout and breaker; `relay` runs after the
executor has returned, under the idle-gap timeout, and settles the model's live state when the
stream ends, fails or is closed (see `gateway.sse` for the contract after the first chunk).

Every chunk is checked for shape (`choices` a list of objects): a malformed one is an upstream
error, so before the first content chunk the executor falls back, after it the client gets an
error event. Every stream is metered: upstreams are asked for usage (`stream_options.include_usage`)
and the usage chunk is kept from a client that did not ask for it; without one (or when the stream
is cut or abandoned) the completion is counted from the text actually streamed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from registry import ModelState
from router.breakers import ModelBreaker
from router.errors import TurnoutError, UpstreamError, UpstreamTimeout
from router.record import RouteRecord
from router.upstream.base import Chunk
from router.usage import charged_usage, output_chars, sane_usage

_CONTENT_KEYS = ("content", "tool_calls", "function_call", "refusal")
_NONE: Any = object()


def malformed(model: str) -> UpstreamError:
    return UpstreamError(f"model {model!r}: upstream sent a malformed stream chunk", code="upstream_invalid_response")


def checked_choices(chunk: Chunk, model: str) -> list[dict[str, Any]]:
    """The chunk's choices, each an object with an object `delta`; a malformed chunk raises."""
    choices = chunk.get("choices", [])
    if not isinstance(choices, list):
        raise malformed(model)
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("delta", {}), dict):
            raise malformed(model)
    return choices


def has_content(chunk: Chunk, model: str = "upstream") -> bool:
    """A chunk a client would see as output: text, a tool call, a refusal or a finish."""
    for choice in checked_choices(chunk, model):
        delta = choice.get("delta") or {}
        if any(delta.get(key) for key in _CONTENT_KEYS) or choice.get("finish_reason"):
            return True
    return False


def streamed_chars(chunk: Chunk) -> int:
    """Characters of output in a (checked) chunk: text, refusals and tool-call arguments."""
    return sum(output_chars(choice.get("delta") or {}) for choice in chunk.get("choices") or ())


@dataclass(slots=True)
class Opened:
    buffered: list[Chunk]
    rest: AsyncIterator[Chunk]
    ttft_ms: float


async def close_quietly(stream: AsyncIterator[Chunk]) -> None:
    aclose: Callable[[], Any] | None = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(TurnoutError):
            await aclose()


async def open_first(stream: AsyncIterator[Chunk], started: float, model: str = "upstream") -> Opened:
    """Pull chunks until the first one with content; the chunks before it are kept for the client."""
    buffered: list[Chunk] = []
    try:
        async for chunk in stream:
            buffered.append(chunk)
            if has_content(chunk, model):
                return Opened(buffered, stream, (time.monotonic() - started) * 1000)
    except BaseException:
        await asyncio.shield(close_quietly(stream))
        raise
    raise UpstreamError("the upstream stream ended before its first content chunk")


@dataclass(slots=True)
class StreamContext:
    model: str
    state: ModelState | None
    breaker: ModelBreaker
    record: RouteRecord
    idle_timeout: float
    started: float
    price_cost: Callable[[int, int], float]
    prompt_tokens: int
    client_usage: bool = True
    """The client asked for usage (`stream_options.include_usage`): pass usage chunks on."""
    chars: int = 0
    """Output characters relayed so far (the count when the upstream sends no usage)."""
    settled: bool = False


def _meter(chunk: Chunk, ctx: StreamContext) -> bool:
    """Check the chunk, count its output and record its usage; False for a usage chunk the client did
    not ask for. Runs on every chunk: the common one (one choice, a text delta) takes the short way."""
    choices = chunk.get("choices", _NONE)
    if choices.__class__ is not list:
        if choices is not _NONE:
            raise malformed(ctx.model)
        choices = []
    for choice in choices:
        delta = choice.get("delta") if choice.__class__ is dict else _NONE
        if delta.__class__ is not dict:
            if delta is not None:
                raise malformed(ctx.model)
            continue
        content = delta.get("content")
        if content.__class__ is str and len(delta) <= 2:  # {"content": ...} or {"role": ..., "content": ...}
            ctx.chars += len(content)
        elif delta:
            ctx.chars += streamed_chars({"choices": [choice]})
    if "usage" not in chunk:
        return True
    usage = chunk["usage"] if ctx.client_usage else chunk.pop("usage")
    if isinstance(usage, dict):
        ctx.record.usage = sane_usage(usage)
    return ctx.client_usage or bool(choices)


def _charge(ctx: StreamContext) -> None:
    """The stream's usage: the upstream's, or the prompt estimate and the text actually streamed."""
    ctx.record.usage = usage = charged_usage(ctx.record.usage, prompt_estimate=ctx.prompt_tokens,
                                             output_chars=ctx.chars)
    ctx.record.cost_usd = ctx.price_cost(usage["prompt_tokens"], usage["completion_tokens"])


async def _settle(opened: Opened, ctx: StreamContext, ok: bool | None) -> None:
    """Free the model's slot, record the outcome (None: abandoned, not recorded), close upstream."""
    if ctx.settled:
        return
    ctx.settled = True
    if ctx.state is not None:
        ctx.state.in_flight -= 1
    _charge(ctx)  # finished, cut or abandoned: what was delivered is charged
    if ok is not None and ctx.state is not None:
        ctx.state.record(latency_ms=(time.monotonic() - ctx.started) * 1000, ok=ok,
                         ttft_ms=opened.ttft_ms, completion_tokens=ctx.record.usage["completion_tokens"])
    await asyncio.shield(close_quietly(opened.rest))


async def _relay(opened: Opened, ctx: StreamContext) -> AsyncGenerator[Chunk, None]:
    ok: bool | None = None
    try:
        for chunk in opened.buffered:
            if _meter(chunk, ctx):
                yield chunk
        while True:
            try:
                async with asyncio.timeout(ctx.idle_timeout):
                    chunk = await anext(opened.rest)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise UpstreamTimeout(f"model {ctx.model!r}: no chunk for {ctx.idle_timeout:g}s") from None
            if _meter(chunk, ctx):
                yield chunk
        ok = True
    except TurnoutError as exc:
        ok = False
        ctx.record.stream_error = type(exc).__name__
        ctx.breaker.record_failure(exc)
        raise
    finally:
        await _settle(opened, ctx, ok)


class ChunkStream:
    """The open stream `Executor.stream` returns: iterate it for chunks (the first ones already
    read), and `await aclose()` when done or abandoned, even if it was never iterated."""

    def __init__(self, opened: Opened, ctx: StreamContext) -> None:
        self._opened, self._ctx = opened, ctx
        self._chunks = _relay(opened, ctx)

    def __aiter__(self) -> ChunkStream:
        return self

    async def __anext__(self) -> Chunk:
        return await anext(self._chunks)

    async def aclose(self) -> None:
        await self._chunks.aclose()
        await _settle(self._opened, self._ctx, None)

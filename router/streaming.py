"""Streams: read up to the first content chunk (inside the fallback loop), then relay the rest.

`open_first` runs under the attempt's first-token timeout and breaker; `relay` runs after the
executor has returned, under the idle-gap timeout, and settles the model's live state when the
stream ends, fails or is closed (see `router.sse` for the contract after the first chunk).
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

_CONTENT_KEYS = ("content", "tool_calls", "function_call", "refusal")


def has_content(chunk: Chunk) -> bool:
    """A chunk a client would see as output: text, a tool call, a refusal or a finish."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if any(delta.get(key) for key in _CONTENT_KEYS) or choice.get("finish_reason"):
            return True
    return False


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


async def open_first(stream: AsyncIterator[Chunk], started: float) -> Opened:
    """Pull chunks until the first one with content; the chunks before it are kept for the client."""
    buffered: list[Chunk] = []
    try:
        async for chunk in stream:
            buffered.append(chunk)
            if has_content(chunk):
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
    settled: bool = False


def _usage(chunk: Chunk, ctx: StreamContext) -> None:
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        ctx.record.usage = {k: v for k, v in usage.items() if isinstance(v, int)}


async def _settle(opened: Opened, ctx: StreamContext, ok: bool | None) -> None:
    """Free the model's slot, record the outcome (None: abandoned, not recorded), close upstream."""
    if ctx.settled:
        return
    ctx.settled = True
    if ctx.state is not None:
        ctx.state.in_flight -= 1
    completion = ctx.record.usage.get("completion_tokens", 0)
    if ok is not None and ctx.state is not None:
        ctx.state.record(latency_ms=(time.monotonic() - ctx.started) * 1000, ok=ok,
                         ttft_ms=opened.ttft_ms, completion_tokens=completion)
    if ok and ctx.record.usage:
        prompt = ctx.record.usage.get("prompt_tokens", ctx.prompt_tokens)
        ctx.record.cost_usd = ctx.price_cost(prompt, completion)
    await asyncio.shield(close_quietly(opened.rest))


async def _relay(opened: Opened, ctx: StreamContext) -> AsyncGenerator[Chunk, None]:
    ok: bool | None = None
    try:
        for chunk in opened.buffered:
            _usage(chunk, ctx)
            yield chunk
        while True:
            try:
                async with asyncio.timeout(ctx.idle_timeout):
                    chunk = await anext(opened.rest)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise UpstreamTimeout(f"model {ctx.model!r}: no chunk for {ctx.idle_timeout:g}s") from None
            _usage(chunk, ctx)
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

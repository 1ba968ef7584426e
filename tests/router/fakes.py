"""A scripted `Upstream` (a fake at our own interface) and small builders for router tests.

Each model gets a list of steps; each call takes the next step, and the last one repeats.
A step is a response body, a stream, an error to raise, or a delay in front of any of those.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry import Capabilities, ModelSpec, Pricing, Registry, Timeouts
from router.errors import TurnoutError
from router.policy import RouterPolicy
from router.upstream.base import Chunk, UpstreamRequest, UpstreamResponse


def answer(model: str, completion_tokens: int = 5) -> dict[str, Any]:
    return {"id": f"cmpl-{model}", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer from {model}"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": completion_tokens,
                      "total_tokens": 10 + completion_tokens}}


def chunk(model: str, content: str | None = None, *, role: bool = False, finish: bool = False) -> Chunk:
    delta: dict[str, Any] = {"role": "assistant", "content": ""} if role else {}
    if content is not None:
        delta["content"] = content
    return {"id": f"chunk-{model}", "object": "chat.completion.chunk", "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if finish else None}]}


@dataclass(frozen=True)
class Ok:
    delay: float = 0.0


@dataclass(frozen=True)
class Fail:
    error: TurnoutError
    delay: float = 0.0


@dataclass(frozen=True)
class Stream:
    """Stream items: a chunk dict, an error to raise, or a float to sleep that many seconds."""

    items: Sequence[Chunk | TurnoutError | float]
    delay: float = 0.0


@dataclass(frozen=True)
class Body:
    """A plain answer with this body (an upstream's own usage figures, say)."""

    body: dict[str, Any]
    delay: float = 0.0


Step = Ok | Fail | Stream | Body


def text_stream(model: str, *words: str) -> Stream:
    return Stream([chunk(model, role=True), *(chunk(model, w) for w in words), chunk(model, finish=True)])


@dataclass
class ScriptedUpstream:
    scripts: dict[str, list[Step]]
    calls: list[tuple[str, float]] = field(default_factory=list)
    requests: list[UpstreamRequest] = field(default_factory=list)

    def calls_to(self, model: str) -> int:
        return sum(1 for m, _ in self.calls if m == model)

    def called(self) -> list[str]:
        return [m for m, _ in self.calls]

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        model = request.spec.id
        self.calls.append((model, time.monotonic()))
        self.requests.append(request)
        script = self.scripts.get(model) or [Ok()]
        step = script.pop(0) if len(script) > 1 else script[0]
        if step.delay:
            await asyncio.sleep(step.delay)
        if isinstance(step, Fail):
            raise step.error
        if isinstance(step, Stream):
            return UpstreamResponse(stream=self._stream(step.items))
        if isinstance(step, Body):
            return UpstreamResponse(body=step.body)
        return UpstreamResponse(body=answer(model))

    @staticmethod
    async def _stream(items: Sequence[Chunk | TurnoutError | float]) -> AsyncIterator[Chunk]:
        for item in items:
            if isinstance(item, float | int):
                await asyncio.sleep(item)
            elif isinstance(item, TurnoutError):
                raise item
            else:
                yield item


def spec(model_id: str, *, window: int = 8192, max_out: int = 2048, price: tuple[float, float] = (0.1, 0.2),
         local: bool = True, tools: bool = True, vision: bool = False, json_mode: bool = True,
         streaming: bool = True, max_concurrency: int = 8, total: float = 5.0, first_token: float = 2.0,
         idle: float = 2.0) -> ModelSpec:
    return ModelSpec(
        id=model_id, litellm_model=f"openai/{model_id}", context_window=window, max_output_tokens=max_out,
        price=Pricing(input_per_mtok=price[0], output_per_mtok=price[1]),
        capabilities=Capabilities(tools=tools, vision=vision, json_mode=json_mode, streaming=streaming),
        tags=("local",) if local else ("hosted",), max_concurrency=max_concurrency,
        timeouts=Timeouts(total=total, first_token=first_token, idle=idle))


SPECS = (
    spec("small", window=4096, max_out=1024, price=(0.05, 0.1)),
    spec("medium", window=32768, price=(0.2, 0.6)),
    spec("medium-b", window=32768, price=(0.2, 0.6)),
    spec("large", window=200000, price=(3.0, 15.0), local=False, vision=True),
    spec("plain", window=8192, tools=False, json_mode=False),
)


def specs_map(*specs: ModelSpec) -> dict[str, ModelSpec]:
    return {s.id: s for s in (specs or SPECS)}


def registry(*specs: ModelSpec) -> Registry:
    return Registry(specs or SPECS)


def policy(**overrides: Any) -> RouterPolicy:
    """A router policy over SPECS with fast retries; keyword overrides replace top-level fields."""
    data: dict[str, Any] = {
        "default_model": "medium",
        "aliases": {"auto": {"tiers": {1: ["small", "medium"], 2: ["medium", "large"], 3: ["large", "medium"]}}},
        "retry": {"max_attempts_per_model": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "jitter": 0.0},
        "breaker": {"fail_max": 3, "reset_timeout_s": 0.3},
        "deadline_s": 5.0,
    }
    data.update(overrides)
    return RouterPolicy.model_validate(data)

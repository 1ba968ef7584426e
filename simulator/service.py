"""What every simulated endpoint does alike: parse the body, find the model, check its context
window, draw its faults, wait out its latency."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from simulator.asgi import Responder
from simulator.config import Fault
from simulator.errors import bad_request, context_exceeded, unknown_model
from simulator.faults import before_answer
from simulator.runtime import ModelRuntime, Runtime

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Exchange:
    """One request as a handler sees it."""

    runtime: Runtime
    responder: Responder
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object.")
        return data


Handler = Callable[[Exchange], Awaitable[None]]


def model_name(body: dict[str, Any]) -> str:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise bad_request("You must provide a model parameter.", param="model")
    return name


@dataclass(frozen=True)
class Admitted:
    model: ModelRuntime
    fault: Fault | None  # a stream or body fault still to strike, if any

    @property
    def name(self) -> str:
        return self.model.model.name


async def admit(exchange: Exchange, name: str, *, endpoint: str, stream: bool,
                prompt_chars: int = 0) -> Admitted | None:
    """The model to answer with, after its faults had their say; None when the request is over
    (connection dropped or client gone). Raises SimError for an error answer."""
    model = exchange.runtime.get(name)
    if model is None:
        raise unknown_model(name)
    used = prompt_chars // CHARS_PER_TOKEN
    if used > model.model.context_window:
        model.reject(endpoint=endpoint, stream=stream)
        raise context_exceeded(model.model.context_window, used)
    fault = model.draw(endpoint=endpoint, stream=stream)
    if await before_answer(fault, exchange.responder):
        return None
    await pause(model.model.latency_ms / 1000)
    return Admitted(model, fault)


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def token_delay(admitted: Admitted) -> float:
    tps = admitted.model.model.tokens_per_second
    return 1 / tps if tps > 0 else 0.0


def int_field(body: dict[str, Any], key: str, *, minimum: int = 0) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise bad_request(f"'{key}' must be an integer >= {minimum}.", param=key)
    return int(value)

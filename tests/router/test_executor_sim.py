"""The executor over the real litellm adapter and the simulator as a real upstream process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from registry import ModelSpec, Registry, Tier, Timeouts
from router.breakers import Breakers
from router.errors import UpstreamError
from router.executor import Executor
from router.features import RequestFeatures, Signals
from router.policy import RouterPolicy
from router.record import RouteRecord
from router.select import select
from router.upstream.litellm_adapter import LiteLLMUpstream
from simulator.config import Fault, SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator

MODELS = (
    SimModel(name="good"),
    SimModel(name="down", faults=(Fault(kind="http_503"),)),
    SimModel(name="limited", faults=(Fault(kind="rate_limit", retry_after_s=0.4),)),
    SimModel(name="tiny", context_window=20),
    SimModel(name="cut", faults=(Fault(kind="cut_stream", after_chunks=3),)),
)
# litellm caches its HTTP clients per process, bound to the loop that made them: one loop per module.
# litellm's stream types trip a pydantic UserWarning that warnings-as-errors would turn into a failure.
pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.filterwarnings("ignore:Item .* on TypedDict class:UserWarning")]

BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "say something"}], "max_tokens": 20}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with start_simulator(SimulatorConfig(seed=1, models=MODELS)) as process:
        yield process


def specs(sim: SimulatorProcess) -> list[ModelSpec]:
    # `tiny` claims a 1000-token window (the simulator enforces 20): smaller than `good`'s
    return [ModelSpec(id=m.name, litellm_model=f"openai/{m.name}", api_base=sim.openai_base_url,
                      context_window=1000 if m.name == "tiny" else 100_000,
                      timeouts=Timeouts(total=5, first_token=5, idle=5)) for m in MODELS]


def setup(sim: SimulatorProcess, chain: list[str], **router: Any) -> tuple[Executor, RouteRecord, Breakers]:
    pol = RouterPolicy.model_validate({
        "default_model": "good", "aliases": {"auto": {"tiers": {1: chain}}},
        "retry": {"max_attempts_per_model": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.02, "jitter": 0},
        **router})
    reg = Registry(specs(sim))
    breakers = Breakers(pol.breaker)
    decision = select(pol, "auto", Signals(Tier(1)), RequestFeatures(prompt_tokens=5), reg.snapshot(),
                      {s.spec.id: s.spec for s in reg})
    return Executor(upstream=LiteLLMUpstream(), registry=reg, breakers=breakers), RouteRecord(decision), breakers


def served(sim: SimulatorProcess, model: str) -> int:
    models = httpx.get(sim.base_url + "/_sim/stats").json()["models"]
    stats = models.get(model, {}) if isinstance(models, dict) else next(m for m in models if m["name"] == model)
    return int(stats.get("requests", 0))


async def test_503s_trip_the_breaker_and_traffic_flows_to_the_next_model(sim: SimulatorProcess) -> None:
    executor, record, breakers = setup(sim, ["down", "good"], breaker={"fail_max": 2, "reset_timeout_s": 30})
    body = await executor.complete(record.decision, BODY, record)
    assert body["choices"][0]["message"]["content"]
    assert [(a.model, a.error) for a in record.attempts] == [
        ("down", "UpstreamUnavailable"), ("down", "UpstreamUnavailable"), ("good", None)]
    assert breakers.states()["down"] == "open"
    again = RouteRecord(record.decision)
    await executor.complete(record.decision, BODY, again)
    assert [(a.model, a.outcome) for a in again.attempts] == [("down", "skipped"), ("good", "ok")]


async def test_429_retry_after_is_honoured_before_moving_on(sim: SimulatorProcess) -> None:
    executor, record, _ = setup(sim, ["limited", "good"])
    started = time.monotonic()
    await executor.complete(record.decision, BODY, record)
    assert time.monotonic() - started >= 0.4
    assert [(a.model, a.error, a.status) for a in record.attempts] == [
        ("limited", "RateLimited", 429), ("limited", "RateLimited", 429), ("good", None, None)]


async def test_context_length_error_goes_to_a_larger_window(sim: SimulatorProcess) -> None:
    executor, record, _ = setup(sim, ["tiny", "good"])
    long_body = {**BODY, "messages": [{"role": "user", "content": "word " * 200}]}
    await executor.complete(record.decision, long_body, record)
    assert [(a.model, a.error) for a in record.attempts] == [("tiny", "ContextWindowExceeded"), ("good", None)]


async def test_a_stream_cut_after_content_raises_from_the_iterator(sim: SimulatorProcess) -> None:
    executor, record, _ = setup(sim, ["cut", "good"])
    stream = await executor.stream(record.decision, BODY, record)
    got = []
    with pytest.raises(UpstreamError):
        async for chunk in stream:
            got.append(chunk)
    assert got and record.model == "cut" and record.stream_error is not None

"""A real simulator process for the adapter tests, and specs that point at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from registry import ModelSpec
from router.upstream.openai_http import OpenAIHTTPUpstream
from simulator.config import Fault, SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator

CONFIG = SimulatorConfig(seed=5, models=(
    SimModel(name="plain", context_window=200),
    SimModel(name="paced", tokens_per_second=5, min_output_tokens=10, max_output_tokens=10),
    SimModel(name="emb", embedding_dims=16),
    SimModel(name="limited", faults=(Fault(kind="rate_limit", retry_after_s=3),)),
))


@pytest.fixture(scope="session")
def upstream_sim() -> Iterator[SimulatorProcess]:
    with start_simulator(CONFIG) as process:
        yield process


def sim_spec(sim: SimulatorProcess, name: str, **extra: Any) -> ModelSpec:
    """A spec whose id (`turnout-<name>`) differs from the simulator's model name (`<name>`)."""
    fields: dict[str, Any] = {"id": f"turnout-{name}", "litellm_model": f"openai/{name}",
                              "api_base": sim.openai_base_url}
    fields.update(extra)
    return ModelSpec.model_validate(fields)


@pytest.fixture
async def direct() -> AsyncIterator[OpenAIHTTPUpstream]:
    upstream = OpenAIHTTPUpstream()
    yield upstream
    await upstream.aclose()

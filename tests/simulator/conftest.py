"""One real simulator process for the whole simulator test session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from simulator.config import Fault, SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator

SEED = 11
CONFIG = SimulatorConfig(
    seed=SEED,
    models=(
        SimModel(name="alpha"),
        SimModel(name="beta"),
        SimModel(name="tiny", context_window=50),
        SimModel(name="emb", embedding_dims=32),
        SimModel(name="paced", latency_ms=100, tokens_per_second=200),
        SimModel(name="coin", faults=(Fault(kind="http_500", rate=0.5),)),
        SimModel(name="claude-sim"),
    ),
)


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatorProcess]:
    with start_simulator(CONFIG) as process:
        yield process


@pytest.fixture
def client(sim: SimulatorProcess) -> Iterator[httpx.Client]:
    """A raw HTTP client on a simulator whose faults and counters were just reset."""
    with httpx.Client(base_url=sim.base_url, timeout=10.0) as http:
        assert http.post("/_sim/reset").status_code == 200
        yield http


"""Reliability fixtures: a simulator of slow and faulty models, policies over it, process probes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.config import Fault, SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator

RELIABILITY_MODELS = (
    SimModel(name="fast", latency_ms=5),
    SimModel(name="slow", latency_ms=1500),
    SimModel(name="trickle", tokens_per_second=12, min_output_tokens=36, max_output_tokens=36),
    SimModel(name="flaky", latency_ms=10, tokens_per_second=400,
             faults=(Fault(kind="http_500", rate=0.05), Fault(kind="timeout", rate=0.02, hang_s=5),
                     Fault(kind="cut_stream", rate=0.03, after_chunks=0))),
    SimModel(name="steady", latency_ms=20, tokens_per_second=400),
)


def reliability_policy(sim_url: str, *, server: dict[str, Any] | None = None,
                       router: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Every simulated model by its name, `auto` falling back from `flaky` to `steady`."""
    def model(name: str) -> dict[str, Any]:
        return {"id": name, "litellm_model": f"openai/{name}", "api_base": f"{sim_url}/v1", "context_window": 32768,
                "max_concurrency": 512, "timeouts": {"connect": 2, "total": 3, "first_token": 1.5, "idle": 1.5}}

    return {"version": "reliability-1", "models": [model(m.name) for m in RELIABILITY_MODELS],
            "router": {"default_model": "steady", "aliases": {"auto": {"tiers": {1: ["flaky"], 2: ["flaky"],
                                                                                3: ["flaky"]}}},
                       **(router or {})},
            "server": {"max_body_bytes": 65536, **(server or {})}, "cache": {"enabled": False}, **extra}


def chat(model: str, *, stream: bool = False, text: str = "Say something short.") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}


def runtime(base_url: str) -> dict[str, Any]:
    """The gateway's `/admin/runtime` snapshot (in flight, tasks, fds, RSS)."""
    response = httpx.get(base_url + "/admin/runtime", timeout=5)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"} and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code
    return dict(error)


@pytest.fixture(scope="session")
def rsim() -> Iterator[SimulatorProcess]:
    with start_simulator(SimulatorConfig(seed=11, models=RELIABILITY_MODELS)) as process:
        yield process


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long suite (`@pytest.mark.reliability`) runs only when asked for: `pytest -m reliability`."""
    if "reliability" in (config.getoption("markexpr") or ""):
        return
    long = [item for item in items if item.get_closest_marker("reliability") is not None]
    if long:
        config.hook.pytest_deselected(items=long)
        items[:] = [item for item in items if item.get_closest_marker("reliability") is None]


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> list[str]:
    """Lines of figures, printed in the terminal summary at the end of the run."""
    lines: list[str] = request.config.stash.setdefault(FIGURES, [])
    return lines


FIGURES = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)

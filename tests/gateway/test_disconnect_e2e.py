"""A client that hangs up cancels its non-streaming request (issue 18, row 12): no more retries or
fallbacks are made for it, and nothing is stored. Real gateway and simulator processes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from simulator.config import Fault, SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator
from tests.conftest import SIM_MODELS, GatewayProcess, base_policy

MSG = [{"role": "user", "content": "Say hello to the turnout"}]


@pytest.fixture(scope="module")
def hang_sim() -> Iterator[SimulatorProcess]:
    hanging = SimModel(name="hanging", faults=(Fault(kind="timeout", hang_s=5.0),))
    with start_simulator(SimulatorConfig(seed=3, models=(*SIM_MODELS, hanging))) as process:
        yield process


def _requests(sim: SimulatorProcess, model: str) -> int:
    stats: dict[str, Any] = httpx.get(sim.base_url + "/_sim/stats", timeout=10).json()["models"]
    return int(stats.get(model, {}).get("total", 0))


def test_a_client_that_hangs_up_cancels_the_remaining_attempts(hang_sim: SimulatorProcess,
                                                               gateway_factory: Callable[..., GatewayProcess]) -> None:
    policy = base_policy(hang_sim.base_url)
    policy["models"].append({"id": "hanging", "litellm_model": "openai/hanging",  # type: ignore[attr-defined]
                             "api_base": f"{hang_sim.base_url}/v1", "timeouts": {"total": 1.0}})
    policy["router"]["aliases"]["slow-chain"] = {"tiers": {t: ["hanging", "local-medium"] for t in (1, 2, 3)}}  # type: ignore[index]
    policy["cache"] = {"enabled": True}
    gw = gateway_factory(policy)
    before = _requests(hang_sim, "local-medium")
    body = {"model": "slow-chain", "messages": MSG}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gw.base_url + "/v1/chat/completions", json=body, timeout=0.4)
    time.sleep(4.0)  # past both attempts of `hanging` (1 s each) and the fallback, had they run
    assert _requests(hang_sim, "hanging") == 1  # no retry after the client left
    assert _requests(hang_sim, "local-medium") == before  # and no fallback
    logs = gw.wait_for_log('"status":499')
    assert '"error":"ClientGone"' in logs
    again = httpx.post(gw.base_url + "/v1/chat/completions", json=body, timeout=30)
    assert again.headers["x-turnout-cache"] == "miss"  # nothing was stored for the one that left

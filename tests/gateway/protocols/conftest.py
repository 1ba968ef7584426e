"""A simulator of this package's own (its faults are set per test) and a gateway over it with two
tenants' keys and Redis (stored responses), started once for the package."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from simulator.config import SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator
from tests.conftest import SIM_MODELS, GatewayProcess, base_policy, redis_prefix

REDIS_URL = "redis://127.0.0.1:6379/0"
KEYS = {"acme": "sk-acme-" + os.urandom(8).hex(), "beta": "sk-beta-" + os.urandom(8).hex()}


@pytest.fixture(scope="package")
def psim() -> Iterator[SimulatorProcess]:
    with start_simulator(SimulatorConfig(seed=7, models=SIM_MODELS)) as process:
        yield process


@pytest.fixture(scope="package")
def prefix() -> Iterator[str]:
    yield from redis_prefix("protocols", REDIS_URL)


def protocols_policy(sim_url: str, prefix: str) -> dict[str, Any]:
    policy = base_policy(sim_url)
    policy["router"] = {"default_model": "local-medium",
                        "aliases": {"auto": {"tiers": {1: ["local-small"], 2: ["local-medium"], 3: ["claude-sim"]}},
                                    "chain": {"tiers": {1: ["local-small", "local-medium"]}}},
                        "retry": {"max_attempts_per_model": 1}, "breaker": {"fail_max": 50, "reset_timeout_s": 1.0}}
    policy["cache"] = {"enabled": False}
    policy["redis"] = {"url_env": "TURNOUT_REDIS_URL", "timeout_s": 2.0}
    policy["auth"] = {"redis_prefix": prefix, "keys": [
        {"id": "acme-1", "tenant": "acme", "key_env": "PROTO_ACME_KEY"},
        {"id": "beta-1", "tenant": "beta", "key_env": "PROTO_BETA_KEY"}]}
    return policy


@pytest.fixture(scope="package")
def pgw(psim: SimulatorProcess, prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    from tests.conftest import start_gateway

    gw = start_gateway(protocols_policy(psim.base_url, prefix), tmp_path_factory.mktemp("protocols"),
                       env={"TURNOUT_REDIS_URL": REDIS_URL, "PROTO_ACME_KEY": KEYS["acme"],
                            "PROTO_BETA_KEY": KEYS["beta"]})
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def _heal(psim: SimulatorProcess) -> Iterator[None]:
    httpx.post(psim.base_url + "/_sim/reset")
    yield
    httpx.post(psim.base_url + "/_sim/reset")


Faults = Callable[..., None]


@pytest.fixture
def faults(psim: SimulatorProcess) -> Faults:
    def set_faults(model: str, *items: dict[str, Any]) -> None:
        httpx.post(psim.base_url + "/_sim/faults", json={"model": model, "faults": list(items)}).raise_for_status()
    return set_faults

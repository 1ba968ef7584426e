"""Shared fixtures: real processes on loopback — the simulator as upstream, the gateway as a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from simulator.config import SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator

ROOT = Path(__file__).resolve().parent.parent

SIM_MODELS = (
    SimModel(name="local-small", context_window=4096),
    SimModel(name="local-medium", context_window=32768),
    SimModel(name="claude-sim", context_window=200000),
    SimModel(name="local-embed", embedding_dims=32),
)



def redis_prefix(label: str, url: str = "redis://127.0.0.1:6379/0") -> Iterator[str]:
    """A key prefix of a test's own on the real Redis (for a fixture to `yield from`); every key
    under it is deleted afterwards."""
    import uuid

    import redis

    name = f"test-{label}-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def base_policy(sim_url: str) -> dict[str, object]:
    """A test policy over simulated upstreams (the OpenAI path and litellm's Anthropic path)."""
    def model(mid: str, **extra: object) -> dict[str, object]:
        spec: dict[str, object] = {"id": mid, "litellm_model": f"openai/{mid}", "api_base": f"{sim_url}/v1",
                                   "capabilities": {"tools": True, "json_mode": True},
                                   "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.2}, "tags": ["local"]}
        spec.update(extra)
        return spec

    return {
        "version": "test-1",
        "models": [
            model("local-small", context_window=4096),
            model("local-medium", context_window=32768, price={"input_per_mtok": 0.2, "output_per_mtok": 0.6}),
            model("claude-sim", litellm_model="anthropic/claude-sim", api_base=sim_url, tags=["hosted"],
                  context_window=200000, price={"input_per_mtok": 3, "output_per_mtok": 15}),
            model("local-embed", capabilities={"chat": False, "embeddings": True}, embedding_dims=32),
        ],
        "router": {"default_model": "local-medium",
                   "aliases": {"auto": {"tiers": {1: ["local-small"], 2: ["local-medium"], 3: ["claude-sim"]}}}},
        "server": {"max_body_bytes": 65536},
    }


class GatewayProcess:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = 5.0) -> str:
        """The logs once they contain `text` (a background thread writes them), or fail."""
        deadline = time.monotonic() + timeout_s
        while True:
            logs = self.logs()
            if text in logs:
                return logs
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the gateway's logs after {timeout_s} s")
            time.sleep(0.05)


def start_gateway(policy: dict[str, object] | Path, workdir: Path, *, env: dict[str, str] | None = None,
                  args: tuple[str, ...] = ()) -> GatewayProcess:
    if isinstance(policy, Path):
        path = policy
    else:
        path = workdir / f"policy-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(policy, sort_keys=False))
    port = free_port()
    log = workdir / f"gateway-{port}.log"
    command = [sys.executable, "-m", "gateway.cli", "serve", "--policy", str(path), "--port", str(port),
               "--no-simulator", *args]
    proc_env = {**os.environ, **(env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=proc_env, cwd=ROOT)
    gw = GatewayProcess(process, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}:\n{gw.logs()}")
        try:
            if httpx.get(gw.base_url + "/healthz", timeout=1).status_code == 200:
                return gw
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    gw.stop()
    raise RuntimeError(f"gateway not ready:\n{gw.logs()}")


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatorProcess]:
    with start_simulator(SimulatorConfig(seed=3, models=SIM_MODELS)) as process:
        yield process


@pytest.fixture(scope="session")
def gateway_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []
    workdir = tmp_path_factory.mktemp("gateways")

    def factory(policy: dict[str, object] | Path, **kwargs: object) -> GatewayProcess:
        gw = start_gateway(policy, workdir, **kwargs)  # type: ignore[arg-type]
        started.append(gw)
        return gw

    yield factory
    for gw in started:
        gw.stop()


@pytest.fixture(scope="session")
def gateway(sim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    """One gateway over the base policy, shared by read-only tests."""
    return gateway_factory(base_policy(sim.base_url))

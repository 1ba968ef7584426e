"""Chaos under live traffic: an upstream killed and restarted, Redis killed and restarted, the policy
reloaded every second, a worker killed. Each runs load in a thread while the fault strikes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from simulator.config import SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator
from tests.conftest import GatewayProcess, free_port
from tests.reliability.conftest import chat, reliability_policy, wait_for
from tests.reliability.load import LoadReport, run_load

pytestmark = pytest.mark.reliability
RATE, SECONDS = 15.0, 14.0


class Background:
    """Load in a thread; `report` once joined."""

    def __init__(self, base_url: str, body: Callable[[int], dict[str, Any]]) -> None:
        self.report = LoadReport()

        def run() -> None:
            self.report = asyncio.run(run_load(base_url, rate=RATE, seconds=SECONDS, body=body))

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.started = time.monotonic()

    def at(self, seconds: float) -> None:
        time.sleep(max(0.0, self.started + seconds - time.monotonic()))

    def join(self) -> LoadReport:
        self.thread.join(SECONDS + 60)
        assert not self.thread.is_alive()
        return self.report


def _auto(i: int) -> dict[str, Any]:
    return chat("auto", stream=i % 2 == 0, text=f"Chaos request {i}.")


def test_upstream_killed_and_restarted(rsim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess],
                                       figures: list[str]) -> None:
    port = free_port()
    config = SimulatorConfig(seed=5, models=(SimModel(name="primary", latency_ms=5),))
    primary = start_simulator(config, port=port)
    policy = reliability_policy(rsim.base_url, router={"breaker": {"reset_timeout_s": 2}})
    policy["models"].append({**policy["models"][0], "id": "primary", "litellm_model": "openai/primary",
                             "api_base": f"{primary.base_url}/v1"})
    policy["router"]["aliases"] = {"auto": {"tiers": {1: ["primary"], 2: ["primary"], 3: ["primary"]}}}
    gw = gateway_factory(policy)
    try:
        load = Background(gw.base_url, _auto)
        load.at(3)
        primary.process.kill()
        primary.stop()
        load.at(7)
        primary = start_simulator(config, port=port)
        report = load.join()
    finally:
        primary.stop()
    served_by = {o.model for o in report.outcomes}
    late = {o.model for o in report.outcomes if o.at_s > 11}
    figures.append(f"chaos upstream killed at 3 s, back at 7 s: {report.summary()}; served by {sorted(served_by)}")
    assert not report.failures(), report.failures()[:3]
    assert {"primary", "steady"} <= served_by
    assert "primary" in late  # back on the primary once it returned


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        started.append(process)
        assert wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                               check=False).stdout.strip() == b"PONG", 10)
        return process

    start.port = port  # type: ignore[attr-defined]
    yield start
    for process in started:
        process.kill()
        process.wait()


def test_redis_killed_and_restarted(rsim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess],
                                    own_redis: Any, figures: list[str]) -> None:
    redis = own_redis()
    policy = reliability_policy(rsim.base_url, redis={"url_env": "TURNOUT_CHAOS_REDIS_URL"})
    policy["cache"] = {"enabled": True}
    gw = gateway_factory(policy, env={"TURNOUT_CHAOS_REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0"})

    def body(i: int) -> dict[str, Any]:
        return chat("steady", stream=i % 2 == 0, text=f"Cached question {i % 10}.")

    load = Background(gw.base_url, body)
    load.at(3)
    redis.kill()
    redis.wait()
    load.at(7)
    own_redis()
    report = load.join()
    caches = [o.headers.get("x-turnout-cache", "").split("-")[0] for o in report.outcomes if o.at_s > 11]
    figures.append(f"chaos Redis killed at 3 s, back at 7 s: {report.summary()}; cache hits in the last 3 s: "
                   f"{caches.count('hit')}/{len(caches)}")
    assert not report.failures(), report.failures()[:3]
    assert "hit" in caches  # the cache works again once Redis is back


def test_policy_reloaded_every_second(rsim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess],
                                      tmp_path: Path, figures: list[str]) -> None:
    path = tmp_path / "policy.yaml"
    policy = reliability_policy(rsim.base_url)
    path.write_text(yaml.safe_dump(policy))
    gw = gateway_factory(path)
    load = Background(gw.base_url, _auto)
    reloads = 0
    for n in range(1, int(SECONDS) - 1):
        load.at(n)
        path.write_text(yaml.safe_dump({**policy, "version": f"reload-{n}"}))
        response = httpx.post(gw.base_url + "/admin/reload", timeout=10)
        assert response.status_code == 200, response.text
        reloads += 1
    report = load.join()
    versions = {o.headers.get("x-turnout-policy-version") for o in report.outcomes}
    figures.append(f"chaos policy reloaded {reloads} times in {SECONDS:g} s: {report.summary()}; "
                   f"{len(versions)} versions served")
    assert not report.failures(), report.failures()[:3]
    assert len(versions) >= reloads // 2


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _workers(pid: int) -> list[int]:
    return [c for c in _children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_a_worker_killed_the_others_carry_on(rsim: SimulatorProcess,
                                             gateway_factory: Callable[..., GatewayProcess],
                                             figures: list[str]) -> None:
    gw = gateway_factory(reliability_policy(rsim.base_url), args=("--workers", "2"))
    assert wait_for(lambda: len(_workers(gw.process.pid)) == 2, 30)
    load = Background(gw.base_url, lambda i: chat("steady", text=f"Worker request {i}."))
    load.at(4)
    victim = _workers(gw.process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    report = load.join()
    failures = report.failures()
    after = [o for o in report.outcomes if o.at_s > 6]
    figures.append(f"chaos worker killed at 4 s (of 2): {report.summary()}; the failures were in flight on it")
    assert after and not [o for o in after if o.error]  # the survivor (and any replacement) carry on
    assert len(failures) <= 3  # at most what was in flight on the killed worker (15 req/s, ~10 ms each)

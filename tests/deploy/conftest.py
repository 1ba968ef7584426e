"""Fixtures for the deploy checks: a real Prometheus scraping real gateways that serve simulated traffic.

`scrape_targets` are the base URLs Prometheus scrapes. By default they are two `turnout serve`
processes over the simulator, driven by `live_gateway.Traffic` (fallbacks, breaker trips, cache hits,
5xx and 4xx, streams, a rejected policy reload, a stalled Redis). Set TURNOUT_METRICS_URL to scrape a
running gateway instead (then no alert is expected to fire), or override `scrape_targets` and
`provoked_alerts` in a closer conftest.
Tools come from deploy/tools/install-test-tools.sh; without them the tests skip, except under CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess
from tests.deploy.live_gateway import (
    PROVOKED_ALERTS,
    REDIS_ENV,
    REDIS_URL,
    BlackHole,
    Traffic,
    live_policy,
    write_policy,
)
from tests.deploy.prom import Prometheus, binaries

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
INSTALL = "bash deploy/tools/install-test-tools.sh"


def missing(tool: str) -> None:
    """Skip for want of a tool; under CI (CI=true) a missing tool is a failure."""
    message = f"{tool} is not installed: run `{INSTALL}`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def prometheus_bins() -> tuple[str, str]:
    found = binaries()
    if found is None:
        missing("prometheus/promtool")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def promtool(prometheus_bins: tuple[str, str]) -> str:
    return prometheus_bins[1]


def _forget(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def scrape_targets(prometheus_bins: tuple[str, str], sim: SimulatorProcess,
                   gateway_factory: Callable[..., GatewayProcess],
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    given = os.environ.get("TURNOUT_METRICS_URL")
    if given:
        yield [given]
        return
    workdir = tmp_path_factory.mktemp("live-gateways")
    prefix = f"turnout:test:deploy-{uuid.uuid4().hex[:8]}"
    hole = BlackHole()
    policy_file = write_policy(workdir / "main.yaml", live_policy(sim.base_url, cache_prefix=prefix))
    main = gateway_factory(policy_file, env={REDIS_ENV: REDIS_URL, "TURNOUT_POLICY_WATCH_S": "0.2"})
    stalled = gateway_factory(live_policy(sim.base_url, cache_prefix=None, limits=True, redis_timeout_s=0.15),
                              env={REDIS_ENV: hole.url})
    traffic = Traffic(main.base_url, stalled.base_url).start()
    policy_file.write_text("models: [unclosed\n")  # an operator's broken edit: rejected, the old policy runs
    rejected = httpx.post(f"{main.base_url}/admin/reload", timeout=10)
    assert rejected.status_code == 422, rejected.text
    try:
        yield [main.base_url, stalled.base_url]
    finally:
        traffic.stop()
        for gw in (main, stalled):
            gw.stop()
        hole.close()
        _forget(prefix)


@pytest.fixture(scope="module")
def provoked_alerts() -> dict[str, dict[str, str]]:
    """Alert name -> labels one of its firing instances carries."""
    return {} if os.environ.get("TURNOUT_METRICS_URL") else PROVOKED_ALERTS


@pytest.fixture(scope="module")
def prometheus(prometheus_bins: tuple[str, str], scrape_targets: list[str],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = Prometheus(prometheus_bins[0], tmp_path_factory.mktemp("prometheus"), scrape_targets)
    try:
        yield server
    finally:
        server.stop()

"""Fixtures for the deploy checks: a real Prometheus scraping a metrics endpoint.

`scrape_target` is the base URL Prometheus scrapes. By default it is `traffic.MetricsServer`
(synthetic records through the real `PrometheusMetrics`); set TURNOUT_METRICS_URL to scrape a
running gateway instead, or override `scrape_target` and `provoked_alerts` in a closer conftest.
Tools come from deploy/tools/install-test-tools.sh; without them the tests skip, except under CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import load_policy
from tests.deploy.prom import Prometheus, binaries
from tests.deploy.traffic import PROVOKED_ALERTS, MetricsServer

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


@pytest.fixture(scope="module")
def scrape_target() -> Iterator[str]:
    given = os.environ.get("TURNOUT_METRICS_URL")
    if given:
        yield given
        return
    with MetricsServer(load_policy(DEPLOY / "policy" / "policy.yaml")) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def provoked_alerts() -> frozenset[str]:
    return PROVOKED_ALERTS


@pytest.fixture(scope="module")
def prometheus(prometheus_bins: tuple[str, str], scrape_target: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = Prometheus(prometheus_bins[0], tmp_path_factory.mktemp("prometheus"), scrape_target)
    try:
        yield server
    finally:
        server.stop()

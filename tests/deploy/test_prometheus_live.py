"""A real Prometheus scrapes real gateways serving simulated traffic (see conftest); every dashboard
query and alert rule is run through its API."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from tests.deploy.prom import Prometheus, alert_rules, dashboard_queries

pytestmark = pytest.mark.redis

KNOWN_GAPS: dict[str, str] = {}
"""Panels the real gateway leaves empty; strict, so the test fails once the gap is closed."""
QUERIES = dashboard_queries()
PANELS = [pytest.param(title, expr, id=title, marks=[pytest.mark.xfail(reason=KNOWN_GAPS[title], strict=True)]
                       if title in KNOWN_GAPS else []) for title, expr in QUERIES]
RULES = alert_rules()


def has_number(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(series["value"][1])) for series in result)


def test_prometheus_scrapes_every_gateway(prometheus: Prometheus, scrape_targets: list[str]) -> None:
    up = prometheus.wait_for(f'count(up{{job="turnout"}} == 1) == {len(scrape_targets)}', timeout=15)
    assert up, f"targets not all up:\n{prometheus.logs()}"
    # rate() over the dashboards' windows needs two scrapes with traffic between them
    assert prometheus.wait_for("sum(rate(turnout_requests_total[1m])) > 0", timeout=15)


@pytest.mark.parametrize(("panel", "expr"), PANELS)
def test_every_dashboard_panel_has_data(prometheus: Prometheus, panel: str, expr: str) -> None:
    """Polled: a ratio is NaN (0/0) until two scrapes have seen its counters move."""
    deadline = time.monotonic() + (3 if panel in KNOWN_GAPS else 15)
    result = prometheus.query(expr)
    while not has_number(result) and time.monotonic() < deadline:
        time.sleep(0.25)
        result = prometheus.query(expr)
    assert result, f"{panel}: no data for {expr}"
    assert has_number(result), f"{panel}: only NaN for {expr}: {result}"


@pytest.mark.parametrize("rule", RULES, ids=[rule["alert"] for rule in RULES])
def test_every_alert_expression_evaluates(prometheus: Prometheus, rule: dict[str, Any]) -> None:
    prometheus.query(rule["expr"])  # raises on a parse or evaluation error


def test_rule_groups_evaluate_without_errors(prometheus: Prometheus) -> None:
    groups = prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["name"] for rule in rules} == {rule["alert"] for rule in RULES}
    time.sleep(1.5)  # at least one evaluation after the data arrived
    for rule in prometheus.api("rules")["groups"][0]["rules"]:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"


def _fires(alert: dict[str, Any], name: str, labels: dict[str, str]) -> bool:
    return alert["state"] == "firing" and alert["labels"]["alertname"] == name and \
        all(alert["labels"].get(key) == value for key, value in labels.items())


def test_alerts_the_traffic_provokes_fire(prometheus: Prometheus,
                                          provoked_alerts: dict[str, dict[str, str]]) -> None:
    deadline = time.monotonic() + 20
    while True:
        alerts = prometheus.api("alerts")["alerts"]
        quiet = sorted(name for name, labels in provoked_alerts.items()
                       if not any(_fires(alert, name, labels) for alert in alerts))
        if not quiet or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not quiet, f"not firing (with their labels): {quiet}"
    firing = {alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"}
    assert "TurnoutDown" not in firing
    assert "TurnoutCacheHitRatioCollapsed" not in firing  # needs hours of history: see alerts.test.yml

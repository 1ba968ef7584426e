"""Grafana: dashboards reference the provisioned datasource and use only variables the tests resolve."""

from __future__ import annotations

import json
import re

import yaml

from tests.deploy.prom import DASHBOARDS, DEPLOY, dashboard_queries


def test_two_dashboards_with_unique_uids() -> None:
    boards = [json.loads(p.read_text()) for p in DASHBOARDS]
    assert {b["uid"] for b in boards} == {"turnout-overview", "turnout-reliability"}


def test_every_panel_uses_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == uid
            assert all(t["datasource"]["uid"] == uid for t in panel["targets"])


def test_queries_use_only_known_variables_and_turnout_metrics() -> None:
    for title, expr in dashboard_queries():
        assert "$" not in expr, title
        metrics = set(re.findall(r"\b(turnout_[a-z_]+|up)\b", expr))
        assert metrics, title


def test_overview_covers_what_operators_asked_for() -> None:
    text = " ".join(expr for title, expr in dashboard_queries() if title.startswith("Turnout / Overview"))
    for metric in ("turnout_requests_total", "turnout_cost_usd_total", "turnout_request_duration_seconds_bucket",
                   "turnout_time_to_first_token_seconds_bucket", "turnout_gateway_overhead_seconds_bucket",
                   "turnout_fallbacks_total", "turnout_cache_lookups_total"):
        assert metric in text
    reliability = " ".join(e for t, e in dashboard_queries() if t.startswith("Turnout / Reliability"))
    for metric in ("turnout_breaker_state", "turnout_upstream_attempts_total", "turnout_redis_errors_total",
                   "turnout_redis_latency_seconds_bucket", "turnout_policy_reloads_total"):
        assert metric in reliability


LEARNING = {  # issue 15 item 5: what an operator watches the router learn by -> the series that shows it
    "feedback received": "turnout_feedback_total",
    "feedback and shadow rows received": "turnout_outcome_rows_total",
    "shadow spend": "turnout_shadow_spend_usd_total",
    "predicted vs observed quality per alias": "turnout_router_need",
    "current threshold": "turnout_router_threshold",
    "strong share": "turnout_router_strong_share",
}
"""Each series is asserted on a real gateway's /metrics by tests/gateway/learning/ (test_retrain_e2e,
test_shadow_e2e, test_feedback_e2e)."""


def test_every_learning_metric_has_an_overview_panel() -> None:
    board = json.loads((DEPLOY / "grafana/dashboards/turnout-overview.json").read_text())
    panels = {p["title"]: {m for t in p["targets"] for m in re.findall(r"\bturnout_[a-z_]+\b", t["expr"])}
              for p in board["panels"]}
    for what, metric in LEARNING.items():
        showing = [title for title, metrics in panels.items() if metric in metrics]
        assert showing, f"no panel queries {metric} ({what})"
        assert all(title.startswith("Learning: ") for title in showing), showing

"""promtool: the compose Prometheus config and the alert rules are valid, and the rules' unit tests pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy.prom import DEPLOY


def promtool_run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True,
                          timeout=60, check=False)


def test_config_is_valid(promtool: str) -> None:
    done = promtool_run(promtool, "check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule files found" in done.stdout + done.stderr


def test_rules_are_valid(promtool: str) -> None:
    done = promtool_run(promtool, "check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_rule_unit_tests_pass(promtool: str) -> None:
    """Every alert fires on its own synthetic history (and stays quiet where it should)."""
    done = promtool_run(promtool, "test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_unit_test() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
              for rule in group["rules"]}
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts.test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")}
    assert alerts == fired


def test_a_broken_rule_is_rejected(promtool: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m]) > 1\n")
    done = subprocess.run([promtool, "check", "rules", str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode != 0

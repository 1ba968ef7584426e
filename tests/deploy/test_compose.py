"""`docker compose config` (the real Compose v2 parser; no engine needed) accepts the stack."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, missing

COMPOSE = DEPLOY / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """`docker compose` (v2 plugin), else the same binary standalone as `docker-compose`."""
    candidates = [[shutil.which("docker") or "docker", "compose"], [shutil.which("docker-compose") or "docker-compose"]]
    for command in candidates:
        try:
            done = subprocess.run([*command, "version"], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            continue
        if done.returncode == 0 and "version v2." in done.stdout:
            return command
    missing("docker compose v2")
    return []


def config(compose: list[str], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*compose, "-f", str(path), "config", "--format", "json"], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def stack(compose: list[str]) -> dict[str, Any]:
    done = config(compose, COMPOSE)
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def test_the_stack_has_turnout_redis_prometheus_and_grafana(stack: dict[str, Any]) -> None:
    assert set(stack["services"]) == {"turnout", "redis", "prometheus", "grafana"}
    turnout = stack["services"]["turnout"]
    assert turnout["environment"]["TURNOUT_REDIS_URL"] == "redis://redis:6379/0"
    assert Path(turnout["build"]["context"]) == DEPLOY.parent
    assert (DEPLOY.parent / turnout["build"]["dockerfile"]).is_file()


def test_every_bind_mount_exists(stack: dict[str, Any]) -> None:
    binds = [v for s in stack["services"].values() for v in s.get("volumes", []) if v["type"] == "bind"]
    assert len(binds) >= 5
    for volume in binds:
        assert Path(volume["source"]).exists(), volume


def test_grafana_provisioning_points_at_the_mounted_dashboards(stack: dict[str, Any]) -> None:
    import yaml

    mounts = {v["target"]: Path(v["source"]) for v in stack["services"]["grafana"]["volumes"] if v["type"] == "bind"}
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/turnout.yml").read_text())["providers"][0]
    assert mounts[provider["options"]["path"]] == DEPLOY / "grafana" / "dashboards"
    assert mounts["/etc/grafana/provisioning"] == DEPLOY / "grafana" / "provisioning"


def test_compose_rejects_a_broken_file(compose: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    broken.write_text(COMPOSE.read_text().replace("restart: unless-stopped", "restartt: unless-stopped", 1))
    done = config(compose, broken)
    assert done.returncode != 0
    assert "restartt" in done.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "USER 10001" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert '"serve", "--host", "0.0.0.0"' in text
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from" not in line and not line.startswith("COPY . "):
            assert (DEPLOY.parent / line.split()[1]).exists(), line

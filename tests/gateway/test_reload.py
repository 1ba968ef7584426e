"""Hot reload under load: a bad edit changes nothing, a good one takes effect, no request fails."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, base_policy

MSG = [{"role": "user", "content": "hello"}]


def _write(path: Path, policy: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(policy, sort_keys=False))
    tmp.replace(path)  # atomic, as editors and Kubernetes do it


def _policy(sim: SimulatorProcess, version: str, first: str) -> dict[str, Any]:
    policy = base_policy(sim.base_url)
    policy["version"] = version
    policy["cache"] = {"enabled": False}  # every request must reach a model: which one is the point
    policy["router"] = {"default_model": "local-medium",
                        "aliases": {"auto": {"tiers": {1: list(dict.fromkeys([first, "local-medium"]))}}}}
    return policy


async def _load(gw: GatewayProcess, seconds: float, seen: list[tuple[str, str]], failures: list[str]) -> None:
    client = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            try:
                raw = await client.chat.completions.with_raw_response.create(model="auto", messages=MSG)  # type: ignore[arg-type]
                seen.append((raw.headers["x-turnout-policy-version"], raw.headers["x-turnout-model"]))
            except openai.OpenAIError as exc:
                failures.append(repr(exc))

    await asyncio.gather(*(worker() for _ in range(8)))
    await client.close()


def test_reload_under_load(sim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess],
                           tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    _write(path, _policy(sim, "v1", "local-small"))
    gw = gateway_factory(path, env={"TURNOUT_POLICY_WATCH_S": "0.2"})
    seen: list[tuple[str, str]] = []
    failures: list[str] = []

    async def scenario() -> dict[str, Any]:
        load = asyncio.create_task(_load(gw, 4.0, seen, failures))
        await asyncio.sleep(0.8)
        bad = _policy(sim, "v-bad", "local-small")
        bad["router"]["aliases"]["auto"]["tierz"] = {}
        _write(path, bad)
        await asyncio.sleep(0.8)
        async with httpx.AsyncClient() as http:
            rejected = (await http.post(gw.base_url + "/admin/reload")).json()
        _write(path, _policy(sim, "v2", "claude-sim"))
        await load
        return rejected

    rejected = asyncio.run(scenario())
    assert failures == []
    assert not rejected["ok"] and rejected["version"] == "v1"
    assert any("router.aliases.auto.tierz" in e and "unknown key" in e for e in rejected["errors"])
    versions = [v for v, _ in seen]
    assert "v-bad" not in versions
    assert versions[0] == "v1" and versions[-1] == "v2"
    assert {m for v, m in seen if v == "v1"} == {"local-small"}
    assert {m for v, m in seen if v == "v2"} == {"claude-sim"}
    assert len(seen) > 50
    metrics = httpx.get(gw.base_url + "/metrics").text
    assert 'turnout_policy_info{version="v2"} 1' in metrics
    assert 'turnout_policy_reloads_total{result="error"}' in metrics
    assert "policy reload (file changed) rejected" in gw.logs()


def test_sighup_reloads(sim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess],
                        tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    _write(path, _policy(sim, "h1", "local-small"))
    gw = gateway_factory(path, env={"TURNOUT_POLICY_WATCH_S": "0"})
    _write(path, _policy(sim, "h2", "local-medium"))
    time.sleep(0.3)
    assert httpx.get(gw.base_url + "/readyz").json()["checks"]["policy"]["version"] == "h1"  # no watch
    os.kill(gw.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if httpx.get(gw.base_url + "/readyz").json()["checks"]["policy"]["version"] == "h2":
            break
        time.sleep(0.1)
    raw = httpx.post(gw.base_url + "/v1/chat/completions", json={"model": "auto", "messages": MSG})
    assert raw.headers["x-turnout-policy-version"] == "h2"
    assert raw.headers["x-turnout-model"] == "local-medium"


def test_unreadable_edits_are_refused_and_the_watch_goes_on(sim: SimulatorProcess,
                                                            gateway_factory: Callable[..., GatewayProcess],
                                                            tmp_path: Path) -> None:
    """A file saved as Latin-1, a recursive alias or runaway nesting is refused like any bad edit (the
    watch kept running, a 422 naming the problem, never a 500), and the next good edit is served."""
    path = tmp_path / "policy.yaml"
    _write(path, _policy(sim, "u1", "local-small"))
    gw = gateway_factory(path, env={"TURNOUT_POLICY_WATCH_S": "0.2"})
    good = yaml.safe_dump(_policy(sim, "u-bad", "local-small"), sort_keys=False)
    edits = [((good + "# caf\u00e9\n").encode("latin-1"), "not UTF-8 text"),
             ((good + "x: &x [*x]\n").encode(), "x[0] (line"),
             ((good + "x: " + "[" * 3000 + "]" * 3000 + "\n").encode(), "nested deeper than 64 levels")]
    for n, (raw, expected) in enumerate(edits, 1):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(raw)
        tmp.replace(path)
        deadline = time.monotonic() + 10
        while gw.logs().count("policy reload (file changed) rejected") < n:
            assert time.monotonic() < deadline, gw.logs()[-2000:]
            time.sleep(0.1)
        reply = httpx.post(gw.base_url + "/admin/reload", timeout=30)
        assert reply.status_code == 422 and expected in reply.json()["errors"][0], reply.text
    _write(path, _policy(sim, "u2", "claude-sim"))
    deadline = time.monotonic() + 10
    while httpx.get(gw.base_url + "/readyz").json()["checks"]["policy"]["version"] != "u2":
        assert time.monotonic() < deadline, "the watch stopped: the good edit was never served"
        time.sleep(0.1)
    raw = httpx.post(gw.base_url + "/v1/chat/completions", json={"model": "auto", "messages": MSG})
    assert raw.headers["x-turnout-model"] == "claude-sim"
    assert "Traceback" not in gw.logs()

"""Semantic routes in a real gateway process: the route header, `/v1/route`, the metric, and a route
edit hot-reloaded under load with no failed request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, base_policy

CODE = "Why does my Python function throw a KeyError when the dict has the key?"
HELLO = "hi there, how are you doing today?"


def _write(path: Path, policy: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(policy, sort_keys=False))
    tmp.replace(path)


def _policy(sim: SimulatorProcess, version: str, code_chain: list[str]) -> dict[str, Any]:
    policy = base_policy(sim.base_url)
    policy["version"] = version
    policy["cache"] = {"enabled": False}
    policy["router"]["aliases"]["auto"]["routes"] = [
        {"name": "code", "description": "Programming help.", "library": "code", "chain": code_chain,
         "examples": ["Fix this TypeError in my JavaScript.", "Write a SQL query for the top customers."]},
        {"name": "chitchat", "description": "Small talk.", "library": "chitchat", "chain": ["local-small"],
         "examples": ["hello!", "thanks, bye"]},
    ]
    return policy


async def _load(gw: GatewayProcess, seconds: float, seen: list[tuple[str, str, str]], failures: list[str]) -> None:
    client = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            try:
                raw = await client.chat.completions.with_raw_response.create(
                    model="auto", messages=[{"role": "user", "content": CODE}])
                seen.append((raw.headers["x-turnout-policy-version"], raw.headers["x-turnout-route"],
                             raw.headers["x-turnout-model"]))
            except openai.OpenAIError as exc:
                failures.append(repr(exc))

    await asyncio.gather(*(worker() for _ in range(6)))
    await client.close()


def test_routes_header_route_endpoint_and_metric(sim: SimulatorProcess,
                                                 gateway_factory: Callable[..., GatewayProcess],
                                                 tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    _write(path, _policy(sim, "r1", ["claude-sim"]))
    gw = gateway_factory(path)
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": CODE}])
    assert raw.headers["x-turnout-route"] == "code" and raw.headers["x-turnout-model"] == "claude-sim"
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": HELLO}])
    assert raw.headers["x-turnout-route"] == "chitchat" and raw.headers["x-turnout-model"] == "local-small"
    follow_up = [{"role": "user", "content": CODE}, {"role": "assistant", "content": "Show me the code."},
                 {"role": "user", "content": "and the same for the other one"}]
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=follow_up)  # type: ignore[arg-type]
    assert raw.headers["x-turnout-route"] == "code"  # matches nothing alone: the conversation's route
    alone = httpx.post(gw.base_url + "/v1/route", json={"model": "auto", "messages": follow_up[-1:]}).json()
    assert alone["route"]["route"] is None and alone["chain"][0] == "local-small"  # the alias's tier 1
    decision = httpx.post(gw.base_url + "/v1/route",
                          json={"model": "auto", "messages": [{"role": "user", "content": CODE}]}).json()
    assert decision["route"]["route"] == "code" and 0.3 <= decision["route"]["score"] <= 1
    assert decision["chain"][0] == "claude-sim"
    logs = gw.wait_for_log('"route":"chitchat"')  # the decision log line of each request
    assert '"route":"code","route_score":' in logs and "alias auto: routes code (library code)" in logs
    metrics = httpx.get(gw.base_url + "/metrics").text
    assert 'turnout_semantic_route_requests_total{route="auto",semantic_route="code"} 2.0' in metrics
    assert 'semantic_route="chitchat"} 1.0' in metrics


def test_route_edit_reloads_under_load(sim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess],
                                       tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    _write(path, _policy(sim, "r1", ["claude-sim"]))
    gw = gateway_factory(path, env={"TURNOUT_POLICY_WATCH_S": "0.2"})
    seen: list[tuple[str, str, str]] = []
    failures: list[str] = []

    async def scenario() -> None:
        load = asyncio.create_task(_load(gw, 12.0, seen, failures))
        await asyncio.sleep(1.5)
        _write(path, _policy(sim, "r2", ["local-medium"]))  # the code route now goes to another model
        await load

    asyncio.run(scenario())
    assert failures == []
    assert {route for _, route, _ in seen} == {"code"}
    assert {(v, m) for v, _, m in seen} == {("r1", "claude-sim"), ("r2", "local-medium")}
    last_r1 = max(i for i, (v, _, _) in enumerate(seen) if v == "r1")
    first_r2 = min(i for i, (v, _, _) in enumerate(seen) if v == "r2")
    assert last_r1 < first_r2 + 6  # at most the requests already in flight finish on the old policy

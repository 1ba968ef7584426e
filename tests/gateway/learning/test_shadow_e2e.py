"""Judged shadow samples end to end: a real gateway, the simulator (a slow stronger model and a scripted
judge that prefers it), the real `openai` SDK. Rows in-process (no Redis)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai

from tests.conftest import GatewayProcess, base_policy

STRONG = "slow-1500ms-strong"
PROMPT = "Write a short poem about the sea at dawn, with gulls"


def shadow_policy(sim_url: str, **shadow: Any) -> dict[str, Any]:
    doc: dict[str, Any] = base_policy(sim_url)
    for mid in (STRONG, f"judge-prefers-{STRONG}"):
        doc["models"].append({"id": mid, "litellm_model": f"openai/{mid}", "api_base": f"{sim_url}/v1",
                              "price": {"input_per_mtok": 3, "output_per_mtok": 15}})
    doc["router"]["aliases"]["learn"] = {"tiers": {1: ["local-small"], 3: [STRONG]}}
    doc["learning"] = {"enabled": True, "prior_weight": 1.0, "sync_interval_s": 0.2, "routes": {"learn": {
        "shadow": {"sample": 1.0, "judge_model": f"judge-prefers-{STRONG}", "max_concurrency": 4, **shadow}}}}
    return doc


def _metric(text: str, series: str) -> float:
    match = re.search(re.escape(series) + r" ([0-9.e+-]+)", text)
    return float(match.group(1)) if match else 0.0


def test_verdicts_arrive_off_the_response_path_and_change_the_route(
        sim: Any, gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(shadow_policy(sim.base_url))
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="anything", max_retries=0)
    route = {"model": "learn", "messages": [{"role": "user", "content": PROMPT + " and a lighthouse"}]}
    assert httpx.post(gw.base_url + "/v1/route", json=route, timeout=10).json()["chain"][0] == "local-small"
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(model="learn",
                                                           messages=[{"role": "user", "content": PROMPT}])
    waited = time.monotonic() - started
    assert raw.headers["x-turnout-model"] == "local-small"
    assert raw.parse().choices[0].message.content.startswith("[local-small]")
    assert waited < 1.5, f"the client waited {waited:.2f} s: the shadow call (1.5 s) was on its path"
    deadline = time.monotonic() + 20
    decision = httpx.post(gw.base_url + "/v1/route", json=route, timeout=10).json()
    while decision["chain"][0] != STRONG and time.monotonic() < deadline:
        time.sleep(0.2)
        decision = httpx.post(gw.base_url + "/v1/route", json=route, timeout=10).json()
    assert decision["chain"][0] == STRONG, decision  # a nearby prompt now goes to the stronger model
    metrics = httpx.get(gw.base_url + "/metrics", timeout=10).text
    assert _metric(metrics, 'turnout_shadow_jobs_total{result="judged"}') == 1
    assert _metric(metrics, 'turnout_outcome_rows_total{source="shadow"}') == 1
    assert _metric(metrics, "turnout_shadow_spend_usd_total") > 0


def test_a_spent_shadow_budget_stops_shadows(sim: Any, gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(shadow_policy(sim.base_url, budget_usd_per_day=0))
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="anything", max_retries=0)
    for _ in range(2):
        client.chat.completions.create(model="learn", messages=[{"role": "user", "content": PROMPT}])
    metrics = httpx.get(gw.base_url + "/metrics", timeout=10).text
    assert _metric(metrics, 'turnout_shadow_jobs_total{result="over_budget"}') == 2
    assert _metric(metrics, "turnout_shadow_spend_usd_total") == 0

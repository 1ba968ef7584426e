"""Judged shadow samples end to end: a real gateway, the simulator (a slow stronger model and a scripted
judge that prefers it), the real `openai` SDK. Rows in-process (no Redis). Streamed answers are judged
once their stream completed; a stream that was cut or abandoned never is."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from simulator.config import SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator
from tests.conftest import SIM_MODELS, GatewayProcess, base_policy

STRONG = "slow-1500ms-strong"
PROMPT = "Write a short poem about the sea at dawn, with gulls"


def shadow_policy(sim_url: str, cheap: str = "local-small", **shadow: Any) -> dict[str, Any]:
    doc: dict[str, Any] = base_policy(sim_url)
    for mid in {STRONG, f"judge-prefers-{STRONG}", cheap} - {"local-small"}:
        doc["models"].append({"id": mid, "litellm_model": f"openai/{mid}", "api_base": f"{sim_url}/v1",
                              "price": {"input_per_mtok": 3, "output_per_mtok": 15}})
    doc["router"]["aliases"]["learn"] = {"tiers": {1: [cheap], 3: [STRONG]}}
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
    # the first decision also loads the explainer's index (well under a second; it used to embed the
    # 17,430 training prompts, 20 s on a busy 2-core box): the generous timeout stays
    assert httpx.post(gw.base_url + "/v1/route", json=route, timeout=90).json()["chain"][0] == "local-small"
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


# ---------------------------------------------------------------------------------- streamed answers
PACED = "paced-cheap"  # about 4 s of stream: time enough to hang up in the middle


@pytest.fixture(scope="module")
def paced_sim() -> Iterator[SimulatorProcess]:
    paced = SimModel(name=PACED, tokens_per_second=10, min_output_tokens=40, max_output_tokens=40)
    with start_simulator(SimulatorConfig(seed=3, models=(*SIM_MODELS, paced))) as process:
        yield process


def _calls(sim: SimulatorProcess, model: str) -> int:
    stats: dict[str, Any] = httpx.get(sim.base_url + "/_sim/stats", timeout=10).json()["models"]
    return int(stats.get(model, {}).get("total", 0))


def _shadow_metrics(gw: GatewayProcess) -> dict[str, float]:
    text = httpx.get(gw.base_url + "/metrics", timeout=10).text
    series = [f'turnout_shadow_jobs_total{{result="{r}"}}' for r in ("judged", "dropped", "over_budget", "failed")]
    return {s: _metric(text, s) for s in [*series, 'turnout_outcome_rows_total{source="shadow"}']}


def test_a_streamed_answer_is_judged_after_its_stream_completed(
        paced_sim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(shadow_policy(paced_sim.base_url))
    strong, judge = _calls(paced_sim, STRONG), _calls(paced_sim, f"judge-prefers-{STRONG}")
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="anything", max_retries=0)
    route = {"model": "learn", "messages": [{"role": "user", "content": PROMPT + " and a lighthouse"}]}
    # the first decision also loads the explainer's index (well under a second; it used to embed the
    # 17,430 training prompts, 20 s on a busy 2-core box): the generous timeout stays
    assert httpx.post(gw.base_url + "/v1/route", json=route, timeout=90).json()["chain"][0] == "local-small"
    started = time.monotonic()
    with client.chat.completions.with_streaming_response.create(
            model="learn", messages=[{"role": "user", "content": PROMPT}], stream=True) as response:
        assert response.headers["x-turnout-model"] == "local-small"
        text = "".join(chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices)
    waited = time.monotonic() - started
    assert text.startswith("[local-small]")
    assert waited < 1.5, f"the stream took {waited:.2f} s: the shadow call (1.5 s) was on its path"
    deadline = time.monotonic() + 20
    while _shadow_metrics(gw)['turnout_outcome_rows_total{source="shadow"}'] < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    metrics = _shadow_metrics(gw)
    assert metrics['turnout_shadow_jobs_total{result="judged"}'] == 1, metrics
    assert metrics['turnout_outcome_rows_total{source="shadow"}'] == 1, metrics
    assert _calls(paced_sim, STRONG) == strong + 1  # asked once, and judged in both orders
    assert _calls(paced_sim, f"judge-prefers-{STRONG}") == judge + 2
    decision = httpx.post(gw.base_url + "/v1/route", json=route, timeout=10).json()
    assert decision["chain"][0] == STRONG, decision  # the verdict moved a nearby prompt to the stronger model


def test_a_cut_stream_is_never_judged(paced_sim: SimulatorProcess,
                                      gateway_factory: Callable[..., GatewayProcess]) -> None:
    cut = "cut-stream-cheap"  # two chunks, then the upstream stops without [DONE]
    gw = gateway_factory(shadow_policy(paced_sim.base_url, cheap=cut))
    judge = _calls(paced_sim, f"judge-prefers-{STRONG}")
    body = {"model": "learn", "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    with httpx.stream("POST", gw.base_url + "/v1/chat/completions", json=body, timeout=30) as response:
        assert response.headers["x-turnout-model"] == cut
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events and events[-1] != "data: [DONE]" and '"error"' in events[-1], events[-3:]
    time.sleep(2.0)  # a job started anyway would have called the stronger model by now
    assert _calls(paced_sim, cut) == 1
    assert _calls(paced_sim, f"judge-prefers-{STRONG}") == judge
    assert not any(_shadow_metrics(gw).values()), _shadow_metrics(gw)


def test_a_stream_the_client_abandoned_is_never_judged(paced_sim: SimulatorProcess,
                                                       gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(shadow_policy(paced_sim.base_url, cheap=PACED))
    body = {"model": "learn", "messages": [{"role": "user", "content": PROMPT + " in winter"}], "stream": True}
    before = _calls(paced_sim, f"judge-prefers-{STRONG}")
    with httpx.stream("POST", gw.base_url + "/v1/chat/completions", json=body, timeout=30) as response:
        assert response.headers["x-turnout-model"] == PACED
        for line in response.iter_lines():
            if '"content"' in line:
                break  # hang up after the first words
    time.sleep(6.0)  # past the whole stream (4 s) and a shadow job, had one started
    assert _calls(paced_sim, PACED) == 1
    assert _calls(paced_sim, f"judge-prefers-{STRONG}") == before
    assert not any(_shadow_metrics(gw).values()), _shadow_metrics(gw)

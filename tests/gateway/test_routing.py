"""Routing end to end: real simulator process, real gateway process, the openai SDK as client.

Fallback down the chain, breakers opening and recovering with one probe, Retry-After, no retry of a
caller's error, context-window fallback, the streaming contract, decisions explained and logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from classifier.latency import sample_conversation
from simulator.config import SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator
from tests.conftest import SIM_MODELS, GatewayProcess, base_policy

MSG = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def rsim() -> Iterator[SimulatorProcess]:
    with start_simulator(SimulatorConfig(seed=5, models=SIM_MODELS)) as process:
        yield process


@pytest.fixture(autouse=True)
def _heal(rsim: SimulatorProcess, rgw: GatewayProcess) -> Iterator[None]:
    """Each test starts with healthy models and no open breaker (reset_timeout_s is 3 s)."""
    httpx.post(rsim.base_url + "/_sim/reset")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
            v["state"] == "open" for v in httpx.get(rgw.base_url + "/admin/breakers").json()["breakers"]):
        time.sleep(0.1)
    yield
    httpx.post(rsim.base_url + "/_sim/reset")


def routing_policy(sim_url: str) -> dict[str, Any]:
    policy = base_policy(sim_url)
    policy["models"][0]["context_window"] = 8192  # type: ignore[index]  # the simulator's is 4096
    policy["router"] = {
        "default_model": "local-medium",
        "aliases": {
            "auto": {"tiers": {1: ["local-small", "local-medium"], 2: ["local-medium", "claude-sim"],
                               3: ["claude-sim", "local-medium"]}},
            "chain": {"tiers": {1: ["local-small", "local-medium"]}},
        },
        "retry": {"max_attempts_per_model": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.05},
        "breaker": {"fail_max": 2, "reset_timeout_s": 3.0},  # long enough for the open phase under load
    }
    policy["cache"] = {"enabled": False}  # every request here must reach a model
    return policy


@pytest.fixture(scope="module")
def rgw(rsim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    return gateway_factory(routing_policy(rsim.base_url))


def faults(sim: SimulatorProcess, model: str, *items: dict[str, Any]) -> None:
    httpx.post(sim.base_url + "/_sim/faults", json={"model": model, "faults": list(items)}).raise_for_status()


def calls(sim: SimulatorProcess, model: str) -> int:
    count: int = httpx.get(sim.base_url + "/_sim/stats").json()["models"].get(model, {}).get("total", 0)
    return count


def client(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)


def breaker_state(gw: GatewayProcess, model: str) -> str:
    views = httpx.get(gw.base_url + "/admin/breakers").json()["breakers"]
    return next((v["state"] for v in views if v["model"] == model), "closed")


def log_line(gw: GatewayProcess, request_id: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The request's log line (logs are written by a background thread: wait for it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [x for x in gw.logs().splitlines() if f'"{request_id}"' in x]
        if lines or time.monotonic() > deadline:
            assert lines, f"no log line for {request_id}"
            found: dict[str, Any] = json.loads(lines[-1])
            return found
        time.sleep(0.05)


def test_failing_model_trips_its_breaker_then_recovers_with_one_probe(rgw: GatewayProcess,
                                                                       rsim: SimulatorProcess) -> None:
    faults(rsim, "local-small", {"kind": "http_500"})
    raw = client(rgw).chat.completions.with_raw_response.create(model="chain", messages=MSG)
    assert raw.headers["x-turnout-model"] == "local-medium"
    assert raw.headers["x-turnout-attempts"] == "3"  # two calls of local-small, then local-medium
    assert breaker_state(rgw, "local-small") == "open"
    before = calls(rsim, "local-small")
    for _ in range(3):
        raw = client(rgw).chat.completions.with_raw_response.create(model="chain", messages=MSG)
        assert raw.headers["x-turnout-model"] == "local-medium"
        assert raw.headers["x-turnout-attempts"] == "1"
    assert calls(rsim, "local-small") == before  # open: not called at all
    faults(rsim, "local-small")  # healed
    time.sleep(3.2)  # past reset_timeout_s: half-open
    raw = client(rgw).chat.completions.with_raw_response.create(model="chain", messages=MSG)
    assert raw.headers["x-turnout-model"] == "local-small"
    assert calls(rsim, "local-small") == before + 1  # exactly one probe
    assert breaker_state(rgw, "local-small") == "closed"


def test_rate_limit_honours_retry_after_then_falls_back(rgw: GatewayProcess, rsim: SimulatorProcess) -> None:
    faults(rsim, "local-small", {"kind": "rate_limit", "retry_after_s": 1})
    started = time.monotonic()
    raw = client(rgw).chat.completions.with_raw_response.create(model="chain", messages=MSG)
    elapsed = time.monotonic() - started
    assert raw.headers["x-turnout-model"] == "local-medium"
    assert calls(rsim, "local-small") == 2
    assert elapsed >= 1.0  # the retry waited for Retry-After


def test_all_rate_limited_is_a_429_with_retry_after(rgw: GatewayProcess, rsim: SimulatorProcess) -> None:
    for model in ("local-small", "local-medium"):
        faults(rsim, model, {"kind": "rate_limit", "retry_after_s": 30})
    response = httpx.post(rgw.base_url + "/v1/chat/completions", json={"model": "chain", "messages": MSG}, timeout=30)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(response.headers["retry-after"]) >= 1


def test_a_callers_400_is_not_retried(rgw: GatewayProcess, rsim: SimulatorProcess) -> None:
    long = [{"role": "user", "content": "word " * 5000}]  # fits the policy's 8192, not the server's 4096
    with pytest.raises(openai.BadRequestError) as info:
        client(rgw).chat.completions.create(model="local-small", messages=long)  # type: ignore[arg-type]
    assert info.value.code == "context_length_exceeded"
    assert calls(rsim, "local-small") == 1


def test_too_long_prompt_goes_to_a_larger_window_model(rgw: GatewayProcess, rsim: SimulatorProcess) -> None:
    long = [{"role": "user", "content": "word " * 5000}]
    raw = client(rgw).chat.completions.with_raw_response.create(model="chain", messages=long)  # type: ignore[arg-type]
    assert raw.headers["x-turnout-model"] == "local-medium"
    assert calls(rsim, "local-small") == 1  # tried once, the 400 moved on without a retry
    longer = [{"role": "user", "content": "word " * 9000}]  # over 8192 by the router's own count
    raw = client(rgw).chat.completions.with_raw_response.create(model="chain", messages=longer)  # type: ignore[arg-type]
    assert raw.headers["x-turnout-model"] == "local-medium"
    assert calls(rsim, "local-small") == 1  # skipped without a call


def test_stream_failing_before_first_byte_falls_back_invisibly(rgw: GatewayProcess, rsim: SimulatorProcess) -> None:
    faults(rsim, "local-small", {"kind": "cut_stream", "after_chunks": 0})
    with client(rgw).chat.completions.with_streaming_response.create(
            model="chain", messages=MSG, stream=True) as response:
        assert response.headers["x-turnout-model"] == "local-medium"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text.startswith("[local-medium]")


def test_stream_failing_after_first_byte_ends_with_an_error_event_and_no_done(
        rgw: GatewayProcess, rsim: SimulatorProcess) -> None:
    faults(rsim, "local-small", {"kind": "cut_stream", "after_chunks": 3})
    with httpx.stream("POST", rgw.base_url + "/v1/chat/completions", timeout=30,
                      json={"model": "local-small", "messages": MSG, "stream": True}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    assert lines[0].startswith("data: {")
    assert "data: [DONE]" not in lines
    error = json.loads(lines[-1][len("data: "):])["error"]
    assert set(error) >= {"message", "type", "code"}
    with pytest.raises(openai.APIError):
        for _ in client(rgw).chat.completions.create(model="local-small", messages=MSG, stream=True):
            pass


def test_route_explains_without_calling_and_requests_are_logged(rgw: GatewayProcess, rsim: SimulatorProcess) -> None:
    before = {m: calls(rsim, m) for m in ("local-small", "local-medium", "claude-sim")}
    # the first explanation embeds the training prompts (seconds on a busy machine): a generous timeout
    decision = httpx.post(rgw.base_url + "/v1/route", json={"model": "auto", "messages": MSG}, timeout=120).json()
    assert decision["alias"] == "auto" and decision["chain"][-1] == "local-medium"
    assert {c["model"] for c in decision["candidates"]} >= set(decision["chain"])
    why = decision["why"]  # the learned router's reasons: score, length prior, nearest training prompts
    assert why["score"] == pytest.approx(decision["score"], abs=1e-3) and 0.0 <= why["length_prior"] <= 1.0
    assert [n["similarity"] for n in why["nearest_training_prompts"]] == sorted(
        (n["similarity"] for n in why["nearest_training_prompts"]), reverse=True)
    assert all(n["outcome"] and n["family"] for n in why["nearest_training_prompts"])
    assert {m: calls(rsim, m) for m in before} == before
    raw = client(rgw).chat.completions.with_raw_response.create(
        model="auto", messages=MSG, extra_headers={"x-request-id": "req-log-1"})
    assert raw.headers["x-request-id"] == "req-log-1"
    assert raw.headers["x-turnout-tier"] in {"1", "2", "3"}
    line = log_line(rgw, "req-log-1")
    assert line["alias"] == "auto" and line["model"] == raw.headers["x-turnout-model"]
    assert line["chain"] and line["attempts"][0]["outcome"] == "ok"
    assert line["cost_usd"] > 0 and line["tokens_out"] > 0 and "Say hello" not in json.dumps(line)


def test_hints_cap_the_tier(rgw: GatewayProcess) -> None:
    hard = [{"role": "user", "content": "Prove that there are infinitely many primes, then derive the "
                                        "asymptotic density using the prime number theorem, step by step."}]
    raw = client(rgw).chat.completions.with_raw_response.create(
        model="auto", messages=hard, extra_headers={"x-turnout-max-tier": "1"})  # type: ignore[arg-type]
    assert raw.headers["x-turnout-tier"] == "1"
    bad = httpx.post(rgw.base_url + "/v1/chat/completions", headers={"x-turnout-max-tier": "9"},
                     json={"model": "auto", "messages": MSG})
    assert bad.status_code == 400 and "max_tier" in bad.json()["error"]["message"]


def test_requests_of_different_complexity_land_on_different_models(rgw: GatewayProcess) -> None:
    easy = client(rgw).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi there"}])
    # a long code review with a rewrite in Rust: the learned router's tier 3 (a short hard request is not:
    # the length prior pulls it down, see classifier/README.md)
    hard = client(rgw).chat.completions.with_raw_response.create(
        model="auto", messages=sample_conversation())  # type: ignore[arg-type]
    assert easy.headers["x-turnout-tier"] == "1" and easy.headers["x-turnout-model"] == "local-small"
    assert hard.headers["x-turnout-tier"] == "3" and hard.headers["x-turnout-model"] == "claude-sim"

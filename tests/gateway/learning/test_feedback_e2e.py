"""Feedback and online learning end to end: two real gateway replicas sharing the real Redis, the real
`openai` SDK, simulated upstreams. Every Redis key of the module is under one prefix, deleted at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.conftest import GatewayProcess, base_policy, redis_prefix

REDIS_URL = "redis://127.0.0.1:6379/0"
KEYS = {name: "tk-" + secrets.token_urlsafe(24) for name in ("acme", "beta", "flood", "rows")}
PROMPT = "Say hello to the turnout"


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    yield from redis_prefix("learn", REDIS_URL)


def learning_policy(sim_url: str, prefix: str, **learning: Any) -> dict[str, Any]:
    doc: dict[str, Any] = base_policy(sim_url)
    doc["redis"] = {"url_env": "TURNOUT_REDIS_URL", "timeout_s": 2.0}
    doc["auth"] = {"redis_prefix": f"{prefix}:auth",
                   "keys": [{"id": f"{t}-1", "tenant": t, "key_env": f"LEARN_{t.upper()}_KEY"} for t in KEYS]}
    doc["learning"] = {"enabled": True, "key_prefix": f"{prefix}:learn", "routes": {"auto": {}},
                       "prior_weight": 1.0, "sync_interval_s": 0.2, "feedback_per_minute": 20, **learning}
    return doc


def _env(redis_url: str = REDIS_URL) -> dict[str, str]:
    return {"TURNOUT_REDIS_URL": redis_url, **{f"LEARN_{t.upper()}_KEY": k for t, k in KEYS.items()}}


@pytest.fixture(scope="module")
def replicas(sim: Any, gateway_factory: Callable[..., GatewayProcess], prefix: str
             ) -> tuple[GatewayProcess, GatewayProcess]:
    policy = learning_policy(sim.base_url, prefix)
    return gateway_factory(policy, env=_env()), gateway_factory(policy, env=_env())


def _client(gw: GatewayProcess, tenant: str = "acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key=KEYS[tenant], max_retries=0)


def _chat(gw: GatewayProcess, content: str = PROMPT, tenant: str = "acme") -> tuple[str, str]:
    """(request id, model that answered)."""
    raw = _client(gw, tenant).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": content}])
    return raw.headers["x-request-id"], raw.headers["x-turnout-model"]


def _feedback(gw: GatewayProcess, body: dict[str, Any], tenant: str = "acme") -> httpx.Response:
    return httpx.post(gw.base_url + "/v1/feedback", json=body, timeout=10,
                      headers={"authorization": f"Bearer {KEYS[tenant]}"})


def _route(gw: GatewayProcess, content: str, tenant: str = "acme") -> httpx.Response:
    # a replica's first decision also loads the explainer's index (well under a second; it used to embed
    # the 17,430 training prompts, 20 s on a busy 2-core box): the generous timeout stays
    return httpx.post(gw.base_url + "/v1/route", timeout=90, headers={"authorization": f"Bearer {KEYS[tenant]}"},
                      json={"model": "auto", "messages": [{"role": "user", "content": content}]})


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_feedback_on_a_served_answer_is_recorded_once(replicas: tuple[GatewayProcess, GatewayProcess]) -> None:
    a, _ = replicas
    rid, model = _chat(a)
    first = _feedback(a, {"request_id": rid, "thumbs": "down"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "recorded"
    assert first.json()["outcomes"] == {model: 0.0}
    again = _feedback(a, {"request_id": rid, "score": 1.0})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_bad_feedback_is_a_clear_4xx(replicas: tuple[GatewayProcess, GatewayProcess]) -> None:
    a, b = replicas
    rid, _ = _chat(a)
    assert _error(_feedback(a, {"request_id": "no-such-request", "score": 1}), 404)["code"] == "request_not_found"
    # another tenant's request is unknown to this key, on either replica
    assert _error(_feedback(b, {"request_id": rid, "score": 1}, tenant="beta"), 404)["param"] == "request_id"
    assert _error(_feedback(a, {"request_id": rid, "score": 1.5}), 400)["code"] == "invalid_score"
    assert _error(_feedback(a, {"request_id": rid, "thumbs": "sideways"}), 400)["param"] == "thumbs"
    assert _error(_feedback(a, {"request_id": rid, "scores": {"gpt-5": 1}}), 400)["param"] == "scores.gpt-5"
    assert _error(_feedback(a, {"request_id": rid}), 400)["param"] == "score"
    assert _error(httpx.post(a.base_url + "/v1/feedback", content=b"{nope", timeout=10,
                             headers={"authorization": f"Bearer {KEYS['acme']}"}), 400)
    assert _error(httpx.post(a.base_url + "/v1/feedback", json={"request_id": rid, "score": 1}, timeout=10,
                             headers={"authorization": "Bearer tk-nobody"}), 401)
    # none of that changed anything: the request can still be rated once
    assert _feedback(a, {"request_id": rid, "score": 0.5}).json()["status"] == "recorded"


def test_a_flood_of_feedback_is_rate_limited(replicas: tuple[GatewayProcess, GatewayProcess]) -> None:
    a, _ = replicas
    statuses = [_feedback(a, {"request_id": f"x-{i}", "score": 1}, tenant="flood").status_code for i in range(25)]
    assert statuses[:20] == [404] * 20 and 429 in statuses[20:]  # a minute's worth, then limited (slow refill)
    limited = _feedback(a, {"request_id": "x", "score": 1}, tenant="flood")
    assert _error(limited, 429)["code"] == "feedback_rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


def test_route_decisions_get_a_request_id_that_can_be_rated(replicas: tuple[GatewayProcess, GatewayProcess]) -> None:
    a, _ = replicas
    routed = _route(a, "What is the capital of France?")
    assert routed.status_code == 200, routed.text
    decision = routed.json()
    assert decision["request_id"] == routed.headers["x-request-id"]
    assert decision["learned"]["prior"] == pytest.approx(decision["learned"]["score"])
    rated = _feedback(a, {"request_id": decision["request_id"], "scores": {"local-small": 1.0, "claude-sim": 1.0}})
    assert rated.status_code == 200 and rated.json()["label"] == 0.0


def test_outcomes_on_one_replica_change_the_route_on_the_other_within_seconds(
        replicas: tuple[GatewayProcess, GatewayProcess]) -> None:
    a, b = replicas
    prompt = "Summarise the plot of a short story about a lighthouse keeper in two sentences"
    before = _route(b, prompt).json()
    assert before["chain"][0] == "local-small", before  # the cold start sends it to the cheaper model
    for _ in range(3):  # the cheaper model failed on it, the stronger one did well
        rid = _route(a, prompt).json()["request_id"]
        assert _feedback(a, {"request_id": rid, "scores": {"local-small": 0.0, "claude-sim": 1.0}}).status_code == 200
    deadline = time.monotonic() + 15
    after = _route(b, prompt).json()
    while (after["chain"][0] != "claude-sim" or after["learned"]["votes"] < 3) and time.monotonic() < deadline:
        time.sleep(0.2)
        after = _route(b, prompt).json()
    assert after["chain"][0] == "claude-sim", after
    assert after["learned"]["votes"] >= 3 and after["score"] > before["score"]
    metrics = httpx.get(b.base_url + "/metrics", timeout=10).text
    assert 'turnout_outcome_rows_total{source="feedback"}' in metrics


def test_a_redis_outage_loses_feedback_never_a_chat(sim: Any, gateway_factory: Callable[..., GatewayProcess],
                                                     prefix: str) -> None:
    policy = learning_policy(sim.base_url, prefix)
    policy["auth"] = {}  # keys in Redis would fail closed; this is about learning alone
    gw = gateway_factory(policy, env=_env("redis://127.0.0.1:1/0"))
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="anything", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": PROMPT}])
    assert raw.http_response.status_code == 200
    lost = httpx.post(gw.base_url + "/v1/feedback", json={"request_id": raw.headers["x-request-id"], "score": 1},
                      timeout=10)
    assert _error(lost, 503)["code"] == "store_unavailable"
    metrics = httpx.get(gw.base_url + "/metrics", timeout=10).text
    assert 'turnout_feedback_total{result="lost"} 1.0' in metrics
    assert 'turnout_learning_store_errors_total{op="context"} 1.0' in metrics


def test_calibration_keeps_the_strong_share_on_target(sim: Any, gateway_factory: Callable[..., GatewayProcess],
                                                       prefix: str) -> None:
    policy = learning_policy(sim.base_url, prefix, key_prefix=f"{prefix}:calib")
    policy["auth"] = {}
    policy["learning"]["routes"] = {"auto": {"calibrate": {"strong_share": 0.3, "window": 60, "refit_every": 5}}}
    gw = gateway_factory(policy, env=_env())
    topics = ["a haiku about rain", "the proof that sqrt(2) is irrational", "a lock-free queue in Rust",
              "hello", "the causes of the first world war in detail", "a SQL query for the top 5 customers"]
    chains = []
    for i in range(120):
        body = {"model": "auto", "messages": [{"role": "user", "content": f"Write {topics[i % 6]} (variant {i})"}]}
        chains.append(httpx.post(gw.base_url + "/v1/route", json=body, timeout=90).json()["chain"][0])
    report = httpx.get(gw.base_url + "/admin/learning", timeout=10).json()["auto"]
    assert report["calibration"]["target_share"] == 0.3
    assert 0.2 <= report["strong_share"] <= 0.4, report
    assert 0.2 <= chains[60:].count("claude-sim") / 60 <= 0.45, chains[60:]
    metrics = httpx.get(gw.base_url + "/metrics", timeout=10).text
    assert f'turnout_router_threshold{{alias="auto"}} {report["threshold"]}' in metrics


def test_rows_export_for_training_and_apgr_over_time(replicas: tuple[GatewayProcess, GatewayProcess], prefix: str,
                                                      tmp_path: Path) -> None:
    a, _ = replicas
    for i in range(12):  # outcomes for both models of the ladder: the cheaper one fails the long prompts
        # a tenant of its own: the flood limit (20 a minute) is one window across both replicas
        rid = _route(a, f"Explain topic number {i} " + "in depth " * i, tenant="rows").json()["request_id"]
        assert _feedback(a, {"request_id": rid, "scores": {"local-small": float(i < 6), "claude-sim": 1.0}},
                         tenant="rows").status_code == 200
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(learning_policy("http://127.0.0.1:9", prefix)))
    env = {**os.environ, "TURNOUT_REDIS_URL": REDIS_URL}
    rows = tmp_path / "rows.jsonl"
    cli = [sys.executable, "-m", "gateway.cli", "learning"]
    out = subprocess.run([*cli, "export", "--policy", str(policy), "--output", str(rows)], env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    exported = [json.loads(line) for line in rows.read_text().splitlines()]
    assert len(exported) >= 12 and "outcome rows of 'auto'" in out
    assert all("vector" in r and "outcomes" in r and r["group"] == "operator:auto" for r in exported)
    png = tmp_path / "apgr.png"
    out = subprocess.run([*cli, "apgr", "--input", str(rows), "--windows", "2", "--plot", str(png)], env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "router" in out and "cold start" in out and png.read_bytes()[:4] == b"\x89PNG"

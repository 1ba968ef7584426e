"""What two replicas on one Redis share besides outcome rows: a tenant's feedback flood limit is one
window across both, a route's shadow budget one budget across both; with Redis down, each replica falls
back to its own (counted) and chat never fails. Real gateway processes, the real Redis, the simulator."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
import redis

from tests.conftest import GatewayProcess, redis_prefix
from tests.gateway.learning.test_shadow_e2e import shadow_policy

REDIS_URL = "redis://127.0.0.1:6379/0"
KEY = "tk-" + secrets.token_urlsafe(24)
PROMPT = "Write a short poem about the sea at dawn, with gulls"


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    yield from redis_prefix("replicas", REDIS_URL)


def policy(sim_url: str, prefix: str, **shadow: Any) -> dict[str, Any]:
    doc = shadow_policy(sim_url, **shadow)
    doc["redis"] = {"url_env": "TURNOUT_REDIS_URL", "timeout_s": 2.0}
    doc["auth"] = {"redis_prefix": f"{prefix}:auth", "keys": [{"id": "t-1", "tenant": "t", "key_env": "REPLICA_KEY"}]}
    doc["learning"].update(key_prefix=f"{prefix}:learn", feedback_per_minute=10)
    return doc


def _metric(gw: GatewayProcess, series: str) -> float:
    match = re.search(re.escape(series) + r" ([0-9.e+-]+)", httpx.get(gw.base_url + "/metrics", timeout=10).text)
    return float(match.group(1)) if match else 0.0


def _wait_metric(gw: GatewayProcess, series: str, at_least: float, timeout_s: float = 20) -> float:
    deadline = time.monotonic() + timeout_s
    while (value := _metric(gw, series)) < at_least and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def _chat(gw: GatewayProcess, key: str = KEY, prompt: str = PROMPT) -> str:
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0)
    messages = [{"role": "user", "content": prompt}]
    raw = client.chat.completions.with_raw_response.create(model="learn", messages=messages)  # type: ignore[arg-type]
    assert raw.http_response.status_code == 200
    return raw.headers["x-turnout-model"]


def test_the_feedback_flood_limit_is_one_window_across_replicas(
        sim: Any, gateway_factory: Callable[..., GatewayProcess], prefix: str) -> None:
    doc = policy(sim.base_url, prefix, sample=0.0)
    env = {"TURNOUT_REDIS_URL": REDIS_URL, "REPLICA_KEY": KEY}
    a, b = gateway_factory(doc, env=env), gateway_factory(doc, env=env)
    statuses = [httpx.post(gw.base_url + "/v1/feedback", json={"request_id": f"x-{i}", "score": 1}, timeout=10,
                           headers={"authorization": f"Bearer {KEY}"}).status_code
                for i, gw in enumerate([a, b] * 7)]
    # 10 a minute for the tenant, whichever replica is asked: each alone would have let its 7 through
    assert statuses[:10] == [404] * 10 and statuses[10:] == [429] * 4, statuses


def test_the_shadow_budget_is_one_budget_across_replicas(
        sim: Any, gateway_factory: Callable[..., GatewayProcess], prefix: str) -> None:
    doc = policy(sim.base_url, prefix, budget_usd_per_day=1e-9)  # one job spends past it
    doc["learning"].update(key_prefix=f"{prefix}:budget", min_similarity=0.95)  # a's verdict moves no other prompt
    env = {"TURNOUT_REDIS_URL": REDIS_URL, "REPLICA_KEY": KEY}
    a, b = gateway_factory(doc, env=env), gateway_factory(doc, env=env)
    assert _chat(a) == "local-small"
    assert _wait_metric(a, 'turnout_shadow_jobs_total{result="judged"}', 1) == 1
    assert _chat(b, prompt="Write a limerick about a cat who owns a bakery") == "local-small"
    assert _wait_metric(b, 'turnout_shadow_jobs_total{result="over_budget"}', 1) == 1  # a spent the budget
    assert _metric(b, 'turnout_shadow_jobs_total{result="judged"}') == 0
    assert _metric(b, "turnout_shadow_spend_usd_total") == 0
    day = time.strftime("%Y-%m-%d", time.gmtime())
    spent = redis.Redis.from_url(REDIS_URL).get(f"{prefix}:budget:shadow_usd:learn:{day}")
    assert spent is not None and float(spent) == pytest.approx(_metric(a, "turnout_shadow_spend_usd_total"))


def test_with_redis_down_each_replica_keeps_its_own_limit_and_budget(
        sim: Any, gateway_factory: Callable[..., GatewayProcess], prefix: str) -> None:
    doc = policy(sim.base_url, prefix)
    doc["auth"] = {}  # keys in Redis would fail closed; this is about learning alone
    gw = gateway_factory(doc, env={"TURNOUT_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert _chat(gw, "anything") == "local-small"  # never a failed chat
    assert _wait_metric(gw, 'turnout_shadow_jobs_total{result="judged"}', 1) == 1  # the local budget let it run
    assert _metric(gw, 'turnout_learning_store_errors_total{op="budget"}') >= 1
    assert _metric(gw, "turnout_shadow_spend_usd_total") > 0
    statuses = [httpx.post(gw.base_url + "/v1/feedback", json={"request_id": f"x-{i}", "score": 1},
                           timeout=10).status_code for i in range(12)]
    assert statuses[:10] == [503] * 10 and statuses[10:] == [429] * 2, statuses  # lost, then limited locally
    assert _metric(gw, 'turnout_learning_store_errors_total{op="flood"}') == 12

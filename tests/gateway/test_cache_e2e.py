"""The response cache through real gateway processes, one real Redis, the openai SDK as client."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, base_policy, free_port

pytestmark = pytest.mark.redis


def calls(sim: SimulatorProcess, model: str) -> int:
    count: int = httpx.get(sim.base_url + "/_sim/stats").json()["models"].get(model, {}).get("total", 0)
    return count


def cache_policy(sim: SimulatorProcess, prefix: str, *, semantic: bool = False) -> dict[str, Any]:
    policy = base_policy(sim.base_url)
    policy["redis"] = {"url_env": "TURNOUT_TEST_REDIS_URL"}
    # generous Redis budgets, as in the component tests: a busy CI machine must not turn a slow
    # lookup into a bypass (a dead Redis still bypasses at once: its connection is refused)
    policy["cache"] = {"enabled": True, "key_prefix": prefix, "ttl_s": 60, "lookup_timeout_ms": 2000,
                       "write_timeout_ms": 2000}
    if semantic:
        policy["cache"]["semantic"] = {"routes": {"local-small": {}}}  # type: ignore[index]
    return policy


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"turnout:test:{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["redis-cli", "--scan", "--pattern", f"*{name}*"], capture_output=True, check=False)
    keys = subprocess.run(["redis-cli", "--scan", "--pattern", f"*{name}*"], capture_output=True, text=True,
                          check=False).stdout.split()
    if keys:
        subprocess.run(["redis-cli", "del", *keys], capture_output=True, check=False)


REDIS = {"TURNOUT_TEST_REDIS_URL": "redis://127.0.0.1:6379/0"}


def ask(gw: GatewayProcess, content: str, *, key: str = "x", **kw: Any) -> Any:
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0)
    return client.chat.completions.with_raw_response.create(
        model="local-small", messages=[{"role": "user", "content": content}], temperature=0, **kw)


def test_exact_hits_streaming_replay_and_cache_control(sim: SimulatorProcess, prefix: str,
                                                      gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(cache_policy(sim, prefix), env=REDIS)
    question = f"What is a railway turnout? {uuid.uuid4().hex}"
    first = ask(gw, question)
    assert first.headers["x-turnout-cache"] == "miss"
    before = calls(sim, "local-small")
    second = ask(gw, question)
    assert second.headers["x-turnout-cache"] == "hit-exact"
    assert calls(sim, "local-small") == before
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    chunks = list(client.chat.completions.create(
        model="local-small", messages=[{"role": "user", "content": question}], temperature=0, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == first.parse().choices[0].message.content
    assert chunks[-1].usage is not None
    assert calls(sim, "local-small") == before
    assert ask(gw, question, extra_headers={"cache-control": "no-cache"}).headers["x-turnout-cache"] == "bypass"
    assert calls(sim, "local-small") == before + 1
    other = f"Never stored {uuid.uuid4().hex}"
    ask(gw, other, extra_headers={"cache-control": "no-store"})
    assert ask(gw, other).headers["x-turnout-cache"] == "miss"


def test_a_stream_is_stored_only_when_whole(sim: SimulatorProcess, prefix: str,
                                            gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(cache_policy(sim, prefix), env=REDIS)
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    question = f"Stream me {uuid.uuid4().hex}"
    list(client.chat.completions.create(model="local-small", messages=[{"role": "user", "content": question}],
                                        temperature=0, stream=True))
    assert ask(gw, question).headers["x-turnout-cache"] == "hit-exact"
    httpx.post(sim.base_url + "/_sim/faults", json={"model": "local-small",
                                                    "faults": [{"kind": "cut_stream", "after_chunks": 3}]})
    try:
        cut = f"Cut me {uuid.uuid4().hex}"
        with pytest.raises(openai.APIError):
            list(client.chat.completions.create(
                model="local-small", messages=[{"role": "user", "content": cut}], temperature=0, stream=True))
    finally:
        httpx.post(sim.base_url + "/_sim/reset")
    assert ask(gw, cut).headers["x-turnout-cache"] == "miss"


def stored_keys(prefix: str) -> int:
    return len(subprocess.run(["redis-cli", "--scan", "--pattern", f"*{prefix}*"], capture_output=True, text=True,
                              check=False).stdout.split())


def wait_for_more_keys(prefix: str, before: int, within_s: float = 5.0) -> None:
    """The cache fills after the answer is sent: wait for the write instead of racing it."""
    deadline = time.monotonic() + within_s
    while stored_keys(prefix) <= before and time.monotonic() < deadline:
        time.sleep(0.05)


def test_replicas_share_entries_that_survive_a_restart_and_tenants_never_mix(
        sim: SimulatorProcess, prefix: str, gateway_factory: Callable[..., GatewayProcess]) -> None:
    policy = cache_policy(sim, prefix)
    policy["auth"] = {"keys": [{"id": "a", "tenant": "alpha", "key_env": "KEY_A"},
                               {"id": "b", "tenant": "beta", "key_env": "KEY_B"}]}
    env = {**REDIS, "KEY_A": "sk-alpha-0123456789", "KEY_B": "sk-beta-0123456789"}
    one = gateway_factory(policy, env=env)
    two = gateway_factory(policy, env=env)
    question = f"Shared across replicas {uuid.uuid4().hex}"
    for gw in (one, two):  # warm: a cold process may spend its first lookup's budget connecting
        ask(gw, f"warm {uuid.uuid4().hex}", key=env["KEY_A"])
    before = stored_keys(prefix)
    assert ask(one, question, key=env["KEY_A"]).headers["x-turnout-cache"] == "miss"
    wait_for_more_keys(prefix, before)
    assert ask(two, question, key=env["KEY_A"]).headers["x-turnout-cache"] == "hit-exact"
    assert ask(two, question, key=env["KEY_B"]).headers["x-turnout-cache"] == "miss"  # another tenant
    one.stop()
    three = gateway_factory(policy, env=env)
    ask(three, f"warm {uuid.uuid4().hex}", key=env["KEY_A"])
    assert ask(three, question, key=env["KEY_A"]).headers["x-turnout-cache"] == "hit-exact"
    purged = httpx.post(three.base_url + "/admin/cache/purge", json={"tenant": "alpha"}).json()
    assert purged["purged"] >= 1
    assert ask(three, question, key=env["KEY_A"]).headers["x-turnout-cache"] == "miss"


def test_semantic_hits_and_the_guard(sim: SimulatorProcess, prefix: str,
                                     gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(cache_policy(sim, prefix, semantic=True), env=REDIS)
    tag = uuid.uuid4().hex[:6]
    ask(gw, f"How do I convert Celsius to Fahrenheit for project {tag}?")
    hit = ask(gw, f"How can I convert Celsius to Fahrenheit for project {tag}?")
    assert hit.headers["x-turnout-cache"].startswith("hit-semantic; similarity=")
    reversed_ = ask(gw, f"How do I convert Fahrenheit to Celsius for project {tag}?")
    assert reversed_.headers["x-turnout-cache"] == "miss"
    ask(gw, f"What is 17 times 23 in project {tag}?")
    assert ask(gw, f"What is 17 times 24 in project {tag}?").headers["x-turnout-cache"] == "miss"


def test_redis_killed_and_restarted_mid_traffic(sim: SimulatorProcess, tmp_path: Any,
                                                gateway_factory: Callable[..., GatewayProcess]) -> None:
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    gw = gateway_factory(cache_policy(sim, "turnout:test:killed"),
                         env={"TURNOUT_TEST_REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    statuses: list[str] = []
    try:
        for i in range(30):
            if i == 10:
                server.kill()
                server.wait()
            if i == 20:
                server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
                time.sleep(0.3)
            statuses.append(ask(gw, f"question {i % 5}").headers["x-turnout-cache"])
        time.sleep(0.6)  # past retry_after_ms: the cache tries Redis again
        statuses.append(ask(gw, "after the restart").headers["x-turnout-cache"])
    finally:
        server.kill()
        server.wait()
    assert "bypass" in statuses[10:20]
    assert statuses[-1] == "miss"
    metrics = httpx.get(gw.base_url + "/metrics").text
    assert "turnout_cache" in metrics
    assert 'turnout_redis_errors_total{component="cache"}' in metrics


def test_missing_embedding_weights_are_one_line_and_the_gateway_serves(
        sim: SimulatorProcess, prefix: str, tmp_path: Any, gateway_factory: Callable[..., GatewayProcess]) -> None:
    policy = cache_policy(sim, prefix, semantic=True)
    policy["router"]["aliases"] = {"auto": {"tiers": {1: ["local-small"], 2: ["local-small"], 3: ["local-small"]}}}
    gw = gateway_factory(policy, env={**REDIS, "TURNOUT_EMBEDDING_DIR": str(tmp_path)})  # an empty directory
    first = ask(gw, "What is a railway turnout?")
    assert first.headers["x-turnout-cache"] == "miss"
    assert ask(gw, "What is a railway turnout?").headers["x-turnout-cache"] == "hit-exact"  # the exact layer serves
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    routed = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hello"}])
    assert routed.headers["x-turnout-model"] == "local-small"
    logs = gw.wait_for_log("semantic cache off")
    assert "Traceback" not in logs
    lines = [line for line in logs.splitlines() if "static.npz not found" in line or "minilm" in line.lower()]
    assert lines and all("reinstall turnout" in line for line in lines)

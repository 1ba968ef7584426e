"""Every policy section, edited and reloaded in real gateway processes: the new behaviour is what is
served (not just the version string), on both replicas of one Redis, through each trigger (file watch,
SIGHUP, `POST /admin/reload`). A section that needs a restart refuses the reload and the old policy
keeps serving. The table of sections and these tests: `docs/reload.md`.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, base_policy, redis_prefix

REDIS_URL = "redis://127.0.0.1:6379/0"
KEY = "tk-reload-" + uuid.uuid4().hex
ENV = {"TURNOUT_REDIS_URL": REDIS_URL, "RELOAD_TEST_KEY": KEY, "TURNOUT_MASTER_KEY": ""}

Pair = tuple[GatewayProcess, GatewayProcess]


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    yield from redis_prefix("reload", REDIS_URL)


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)  # atomic, as editors and Kubernetes do it


class Edits:
    """Builds this module's policies: one Redis, keys and cache under the module's prefix."""

    def __init__(self, sim: SimulatorProcess, prefix: str) -> None:
        self.sim, self.prefix, self.count = sim, prefix, 0

    def base(self, *, keys: bool = False, cache: bool = False) -> dict[str, Any]:
        self.count += 1
        doc: dict[str, Any] = base_policy(self.sim.base_url)
        doc["version"] = f"r{self.count}"
        doc["redis"] = {"url_env": "TURNOUT_REDIS_URL", "timeout_s": 2.0}
        doc["cache"] = {"enabled": cache, "key_prefix": f"{self.prefix}:cache:{self.count}",
                        "lookup_timeout_ms": 2000, "write_timeout_ms": 2000}  # a busy test machine
        doc["auth"] = {"redis_prefix": f"{self.prefix}:{self.count}"}
        if keys:
            doc["auth"]["keys"] = [{"id": "k1", "tenant": "acme", "key_env": "RELOAD_TEST_KEY"}]
        return doc

    def next(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        return {**doc, "version": f"r{self.count}"}


@pytest.fixture(scope="module")
def edits(sim: SimulatorProcess, prefix: str) -> Edits:
    return Edits(sim, prefix)


def _start_pair(factory: Callable[..., GatewayProcess], path: Path, doc: dict[str, Any], watch_s: str) -> Pair:
    _write(path, doc)
    env = {**ENV, "TURNOUT_POLICY_WATCH_S": watch_s}
    return factory(path, env=env), factory(path, env=env)


@pytest.fixture(scope="module")
def pair(gateway_factory: Callable[..., GatewayProcess], edits: Edits,
         tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Two replicas of one policy file over one Redis; they reload on SIGHUP or the admin API only."""
    return _start_pair(gateway_factory, tmp_path_factory.mktemp("pair") / "policy.yaml", edits.base(), "0")


@pytest.fixture(scope="module")
def watched(gateway_factory: Callable[..., GatewayProcess], edits: Edits,
            tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Two replicas that watch their one policy file."""
    return _start_pair(gateway_factory, tmp_path_factory.mktemp("watched") / "policy.yaml", edits.base(), "0.2")


def _path(gw: GatewayProcess) -> Path:
    argv = gw.process.args
    assert isinstance(argv, list)
    return Path(argv[argv.index("--policy") + 1])


def _version(gw: GatewayProcess) -> str:
    version: str = httpx.get(gw.base_url + "/readyz", timeout=10).json()["checks"]["policy"]["version"]
    return version


def _wait_version(gws: Pair, version: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while {_version(gw) for gw in gws} != {version}:
        assert time.monotonic() < deadline, f"not every replica serves {version}: {[_version(g) for g in gws]}"
        time.sleep(0.1)


def admin_reload(gws: Pair) -> list[httpx.Response]:
    return [httpx.post(gw.base_url + "/admin/reload", timeout=60) for gw in gws]


def apply(gws: Pair, doc: dict[str, Any], how: str = "admin") -> list[dict[str, Any]]:
    """Write `doc`, have every replica reload it (`admin`, `sighup` or `watch`), wait until they serve it."""
    _write(_path(gws[0]), doc)
    replies: list[dict[str, Any]] = []
    if how == "admin":
        for reply in admin_reload(gws):
            assert reply.status_code == 200, reply.text
            replies.append(reply.json())
    elif how == "sighup":
        for gw in gws:
            os.kill(gw.process.pid, signal.SIGHUP)
    _wait_version(gws, doc["version"])
    return replies


def chat(gw: GatewayProcess, content: str = "hello", *, key: str = "none", model: str = "auto",
         **extra: Any) -> tuple[int, Any, Any]:
    """(status, headers, body or error body) of one chat request through the real `openai` SDK."""
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0, timeout=30)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": content}], **extra)
        return 200, raw.headers, raw.parse()
    except openai.APIStatusError as exc:
        return exc.status_code, exc.response.headers, exc.body
    finally:
        client.close()


# ------------------------------------------------------------------------------------ keys, tenants


def test_keys_added_by_sighup_are_required(pair: Pair, edits: Edits) -> None:
    apply(pair, edits.base())
    assert [chat(gw)[0] for gw in pair] == [200, 200]  # open mode: anyone
    apply(pair, edits.next(edits.base(keys=True)), how="sighup")
    for gw in pair:
        status, _, body = chat(gw)
        assert status == 401 and body["code"] == "invalid_api_key", body
        assert chat(gw, key=KEY)[0] == 200


def test_tenant_route_permissions_apply(pair: Pair, edits: Edits) -> None:
    doc = edits.base(keys=True)
    apply(pair, doc)
    assert chat(pair[0], key=KEY, model="claude-sim")[0] == 200
    doc = edits.next(doc)
    doc["auth"] = {**doc["auth"], "tenants": {"acme": {"allowed_models": ["local-small"]}}}
    replies = apply(pair, doc)
    assert [set(r["applied"]) for r in replies] == [{"version", "auth"}] * 2
    for gw in pair:
        assert chat(gw, key=KEY, model="claude-sim")[0] == 403
        assert chat(gw, key=KEY, model="local-small")[0] == 200


# ------------------------------------------------------------------------------------ limits, budgets


def test_rate_limit_changed_applies_on_both_replicas(pair: Pair, edits: Edits) -> None:
    doc = edits.base(keys=True)
    apply(pair, doc)
    assert [chat(pair[i % 2], key=KEY)[0] for i in range(4)] == [200] * 4
    doc = edits.next(doc)
    doc["auth"]["keys"][0]["limits"] = {"requests_per_minute": 2}
    apply(pair, doc)
    first, second = chat(pair[0], key=KEY), chat(pair[1], key=KEY)  # one window in Redis for both
    assert (first[0], second[0]) == (200, 200)
    assert first[1]["x-ratelimit-limit-requests"] == "2"
    status, headers, body = chat(pair[0], key=KEY)
    assert status == 429 and body["code"] == "rate_limit_exceeded" and int(headers["retry-after"]) >= 1


def test_budget_changed_applies(pair: Pair, edits: Edits) -> None:
    doc = edits.base(keys=True)
    apply(pair, doc)
    assert chat(pair[0], key=KEY)[0] == 200
    doc = edits.next(doc)
    doc["auth"]["tenants"] = {"acme": {"limits": {"budget_usd_per_day": 0}}}
    doc["auth"]["limits"] = {"on_budget_exhausted": "refuse"}
    apply(pair, doc)
    for gw in pair:
        status, _, body = chat(gw, key=KEY)
        assert status == 429 and body["code"] == "insufficient_quota", body


# ------------------------------------------------------------------------------------------- guardrails


def test_guardrail_turned_on_blocks(pair: Pair, edits: Edits) -> None:
    doc = edits.base()
    apply(pair, doc)
    assert chat(pair[0], "tell me about plovers")[0] == 200
    doc = edits.next(doc)
    doc["guardrails"] = {"default": "strict",
                         "profiles": {"strict": {"input": {"deny": {"patterns": ["plover"]}}}}}
    replies = apply(pair, doc)
    assert [set(r["applied"]) for r in replies] == [{"version", "guardrails"}] * 2
    for gw in pair:
        status, _, body = chat(gw, "tell me about plovers")
        assert status == 400 and body["code"] == "guardrail_violation", body
        assert chat(gw, "tell me about terns")[0] == 200


# ------------------------------------------------------------------------------------------------ cache


def test_cache_disabled_by_file_watch_stops_hitting(watched: Pair, edits: Edits) -> None:
    doc = edits.base(cache=True)
    apply(watched, doc, how="watch")
    question = f"what is a turnout? {uuid.uuid4().hex}"
    assert chat(watched[0], question)[1]["x-turnout-cache"] == "miss"
    assert [chat(gw, question)[1]["x-turnout-cache"] for gw in watched] == ["hit-exact"] * 2  # one Redis
    doc = edits.next(doc)
    doc["cache"] = {**doc["cache"], "enabled": False}
    apply(watched, doc, how="watch")
    for gw in watched:
        status, headers, _ = chat(gw, question)
        assert status == 200 and headers.get("x-turnout-cache", "none") != "hit-exact"
        assert headers["x-turnout-attempts"] == "1"  # a model answered


def test_cache_enabled_applies(pair: Pair, edits: Edits) -> None:
    doc = edits.base()
    apply(pair, doc)
    question = f"what is a frog? {uuid.uuid4().hex}"
    assert chat(pair[0], question)[1].get("x-turnout-cache") is None  # no cache at all
    doc = edits.next(doc)
    doc["cache"] = {**doc["cache"], "enabled": True}
    replies = apply(pair, doc)
    assert [set(r["applied"]) for r in replies] == [{"version", "cache"}] * 2
    assert chat(pair[0], question)[1]["x-turnout-cache"] == "miss"
    assert [chat(gw, question)[1]["x-turnout-cache"] for gw in pair] == ["hit-exact"] * 2


def test_semantic_threshold_lowered_applies(pair: Pair, edits: Edits) -> None:
    doc = edits.base(cache=True)
    doc["cache"]["semantic"] = {"routes": {"auto": {}}, "threshold": 0.99, "min_threshold": 0.9}
    apply(pair, doc)
    stored, asked = "Which city is the capital of France?", "What is the capital city of France?"  # cos 0.972
    assert chat(pair[0], stored)[1]["x-turnout-cache"] == "miss"
    assert chat(pair[0], stored)[1]["x-turnout-cache"] == "hit-exact"
    no_store = {"cache-control": "no-store"}  # looked up, never stored: the next lookups see the same entries
    assert chat(pair[0], asked, extra_headers=no_store)[1]["x-turnout-cache"] == "miss"
    doc = edits.next(doc)
    doc["cache"] = {**doc["cache"], "semantic": {**doc["cache"]["semantic"], "threshold": 0.95}}
    replies = apply(pair, doc)
    assert [set(r["applied"]) for r in replies] == [{"version", "cache"}] * 2
    for gw in pair:
        assert chat(gw, asked, extra_headers=no_store)[1]["x-turnout-cache"].startswith("hit-semantic")


# --------------------------------------------------------------------------------------- routes, models


def test_route_changed_applies(pair: Pair, edits: Edits) -> None:
    doc = edits.base()
    doc["router"] = {"default_model": "local-medium", "aliases": {"auto": {"tiers": {1: ["local-small"]}}}}
    apply(pair, doc)
    assert chat(pair[0])[1]["x-turnout-model"] == "local-small"
    doc = edits.next(doc)
    doc["router"] = {"default_model": "local-medium", "aliases": {"auto": {"tiers": {1: ["claude-sim"]}}}}
    replies = apply(pair, doc)
    assert [set(r["applied"]) for r in replies] == [{"version", "router"}] * 2
    assert [chat(gw)[1]["x-turnout-model"] for gw in pair] == ["claude-sim"] * 2


def test_model_added_is_served(pair: Pair, edits: Edits) -> None:
    doc = edits.base()
    apply(pair, doc)
    assert chat(pair[0], model="local-small-b")[0] == 404
    doc = edits.next(doc)
    extra = {**doc["models"][0], "id": "local-small-b"}
    doc["models"] = [*doc["models"], extra]
    replies = apply(pair, doc)
    assert [set(r["applied"]) for r in replies] == [{"version", "models"}] * 2
    for gw in pair:
        status, headers, _ = chat(gw, model="local-small-b")
        assert status == 200 and headers["x-turnout-model"] == "local-small-b"


# ------------------------------------------------------------------------------------------------ server


def test_server_body_limit_changed_applies(pair: Pair, edits: Edits) -> None:
    doc = edits.base()
    apply(pair, doc)
    assert chat(pair[0], "x" * 2000)[0] == 200
    doc = edits.next(doc)
    doc["server"] = {"max_body_bytes": 1000}
    apply(pair, doc)
    for gw in pair:
        assert chat(gw, "x" * 2000)[0] == 413
        assert chat(gw, "short")[0] == 200


# ------------------------------------------------------------------------------- sections needing a restart


def test_redis_edit_is_refused_and_the_old_policy_keeps_serving(pair: Pair, edits: Edits) -> None:
    doc = edits.base()
    apply(pair, doc)
    edited = edits.next(doc)
    edited["redis"] = {**doc["redis"], "timeout_s": 1.0}
    edited["guardrails"] = {"default": "strict",
                            "profiles": {"strict": {"input": {"deny": {"patterns": ["plover"]}}}}}
    _write(_path(pair[0]), edited)
    for reply in admin_reload(pair):
        assert reply.status_code == 409, reply.text
        body = reply.json()
        assert not body["ok"] and body["restart_required"] == ["redis"] and body["applied"] == []
        assert body["version"] == doc["version"]
        assert "redis: changed, and this section needs a restart" in body["errors"][0]
    for gw in pair:
        status, headers, _ = chat(gw, "tell me about plovers")  # the guardrail edit was not applied either
        assert status == 200 and headers["x-turnout-policy-version"] == doc["version"]
    assert "redis: changed, and this section needs a restart" in pair[0].wait_for_log("needs a restart")

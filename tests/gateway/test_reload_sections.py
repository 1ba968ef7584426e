"""Every policy section, edited and reloaded in real gateway processes: the new behaviour is what is
served (not just the version string), on both replicas of one Redis, through each trigger (file watch,
SIGHUP, `POST /admin/reload`). A section that needs a restart refuses the reload and the old policy
keeps serving. The table of sections and these tests: `docs/reload.md`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, redis_prefix
from tests.gateway.reload_harness import (
    KEY,
    REDIS_URL,
    Edits,
    Pair,
    admin_reload,
    apply,
    chat,
    policy_path,
    start_pair,
    write_policy,
)


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    yield from redis_prefix("reload", REDIS_URL)


@pytest.fixture(scope="module")
def edits(sim: SimulatorProcess, prefix: str) -> Edits:
    return Edits(sim, prefix)


@pytest.fixture(scope="module")
def pair(gateway_factory: Callable[..., GatewayProcess], edits: Edits,
         tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Two replicas of one policy file over one Redis; they reload on SIGHUP or the admin API only."""
    return start_pair(gateway_factory, tmp_path_factory.mktemp("pair") / "policy.yaml", edits.base(), "0")


@pytest.fixture(scope="module")
def watched(gateway_factory: Callable[..., GatewayProcess], edits: Edits,
            tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Two replicas that watch their one policy file."""
    return start_pair(gateway_factory, tmp_path_factory.mktemp("watched") / "policy.yaml", edits.base(), "0.2")


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
    write_policy(policy_path(pair[0]), edited)
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

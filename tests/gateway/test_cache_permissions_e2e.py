"""Permissions apply to cached answers (issue 18, row 4): inside one tenant, a cache hit is served
only to a key that could have called the model that produced it. Real gateway process, real Redis
(cache and keys), the simulator, the real `openai` SDK.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from classifier.latency import sample_conversation
from tests.conftest import GatewayProcess
from tests.gateway import test_tenancy_e2e as shared
from tests.gateway.tenancy_harness import Secrets, client, create_key, tenancy_policy

prefix, keys, start = shared.prefix, shared.keys, shared.start


@pytest.fixture(scope="module")
def gw(sim: Any, start: Callable[[dict[str, Any]], GatewayProcess], prefix: str) -> GatewayProcess:
    return start(tenancy_policy(sim.base_url, prefix, cache=True))


def _ask(gw: GatewayProcess, key: str, prompt: str) -> tuple[str, str]:
    raw = client(gw, key).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": prompt}])  # type: ignore[arg-type]
    return raw.headers["x-turnout-cache"], raw.headers["x-turnout-model"]


@pytest.mark.parametrize(("producer", "limited", "model"), [
    ({"allowed_models": ["local-medium"]}, {"allowed_models": ["local-small"]}, "local-small"),
])
def test_a_key_never_gets_a_cached_answer_of_a_model_it_may_not_call(gw: GatewayProcess, keys: Secrets,
                                                                     producer: dict[str, Any],
                                                                     limited: dict[str, Any], model: str) -> None:
    tenant = f"cache-{uuid.uuid4().hex[:6]}"
    rich, poor = create_key(gw, keys, tenant=tenant, **producer), create_key(gw, keys, tenant=tenant, **limited)
    prompt = f"Summarise the history of railway switches {uuid.uuid4().hex[:6]}"
    assert _ask(gw, rich["key"], prompt) == ("miss", producer["allowed_models"][0])
    assert _ask(gw, rich["key"], prompt) == ("hit-exact", producer["allowed_models"][0])  # the entry is there
    assert _ask(gw, poor["key"], prompt) == ("miss", model)


def test_a_tier_capped_key_never_gets_a_cached_answer_of_a_higher_tier(gw: GatewayProcess, keys: Secrets) -> None:
    tenant = f"cache-{uuid.uuid4().hex[:6]}"
    rich, capped = create_key(gw, keys, tenant=tenant), create_key(gw, keys, tenant=tenant, max_tier=1)
    # the long code review: the learned router's tier 3 (see tests/gateway/test_routing.py)
    messages = [*sample_conversation()[:-1], {"role": "user", "content": sample_conversation()[-1]["content"]
                                             + f" ({uuid.uuid4().hex[:6]})"}]

    def ask(key: str) -> tuple[str, str, str]:
        raw = client(gw, key).chat.completions.with_raw_response.create(model="auto", messages=messages)  # type: ignore[arg-type]
        return raw.headers["x-turnout-cache"], raw.headers.get("x-turnout-tier", ""), raw.headers["x-turnout-model"]

    first = ask(rich["key"])
    assert first[0] == "miss" and first[1] == "3"
    assert ask(rich["key"])[0] == "hit-exact"  # the tier-3 answer is stored
    status, tier, model = ask(capped["key"])
    assert (status, tier) == ("miss", "1") and model != first[2]

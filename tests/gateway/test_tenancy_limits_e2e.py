"""Rate limits and budgets end to end: two gateway replicas over the real Redis, the real `openai` SDK,
and a third gateway (`thrifty`: budgets downgrade, response cache on). The fixtures and helpers are
those of `test_tenancy_e2e`, instantiated again for this module (its own processes, keys and prefix).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import openai
import pytest

from classifier.latency import sample_conversation
from tests.conftest import GatewayProcess
from tests.gateway import test_tenancy_e2e as shared
from tests.gateway.tenancy_harness import MSG, Secrets, client, create_key, spend, tenancy_policy, wait_for_spend

prefix, keys, start, replicas, a, b = shared.prefix, shared.keys, shared.start, shared.replicas, shared.a, shared.b
# a long code review with a rewrite in Rust: above tier 1 for the learned router (a short hard request
# is not: the length prior pulls it down, see classifier/README.md)
HARD = sample_conversation()
RPM = 20


# ----------------------------------------------------------------------------------- rate limits


async def _burst(gw: GatewayProcess, key: str, n: int) -> list[Any]:
    async with openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0, timeout=30) as aio:
        calls = [aio.chat.completions.with_raw_response.create(model="local-small", messages=MSG, max_tokens=4)  # type: ignore[arg-type]
                 for _ in range(n)]
        return list(await asyncio.gather(*calls, return_exceptions=True))


async def test_the_rate_limit_holds_under_load_from_two_replicas(a: GatewayProcess, b: GatewayProcess,
                                                                 keys: Secrets) -> None:
    issued = await asyncio.to_thread(create_key, a, keys, tenant="epsilon", limits={"requests_per_minute": RPM})
    per_replica = RPM + RPM // 2  # each replica alone would admit RPM: together they must not
    results = [r for batch in await asyncio.gather(_burst(a, issued["key"], per_replica),
                                                   _burst(b, issued["key"], per_replica)) for r in batch]
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(admitted) == RPM and len(refused) == 2 * per_replica - RPM, [type(r).__name__ for r in results]
    remaining = sorted(int(r.headers["x-ratelimit-remaining-requests"]) for r in admitted)
    assert remaining == list(range(RPM))
    assert {r.headers["x-ratelimit-limit-requests"] for r in admitted} == {str(RPM)}
    for exc in refused:
        headers = exc.response.headers
        assert exc.code == "rate_limit_exceeded"
        assert 1 <= int(headers["retry-after"]) <= 60
        assert headers["x-ratelimit-limit-requests"] == str(RPM) and headers["x-ratelimit-remaining-requests"] == "0"
        assert headers["x-ratelimit-reset-requests"].endswith("s")
    refused_by = {r.response.url.port for r in refused}
    assert refused_by == {a.port, b.port}


# ---------------------------------------------------------------------------------------- budgets


def test_spend_accumulates_from_usage_and_registry_prices(a: GatewayProcess, b: GatewayProcess,
                                                          keys: Secrets) -> None:
    issued = create_key(a, keys, tenant="zeta")
    prices = {"local-small": (0.1, 0.2), "local-medium": (0.2, 0.6)}  # USD per million tokens, from base_policy
    expected = 0.0
    for gw, model in ((a, "local-small"), (b, "local-medium"), (a, "local-medium")):
        completion = client(gw, issued["key"]).chat.completions.create(model=model, messages=MSG)  # type: ignore[arg-type]
        assert completion.usage is not None
        price_in, price_out = prices[model]
        expected += (completion.usage.prompt_tokens * price_in + completion.usage.completion_tokens * price_out) / 1e6
    used = wait_for_spend(b, keys, "zeta", issued["id"], expected * 0.999)
    assert used == pytest.approx(expected, rel=1e-6)
    tenant = spend(a, keys, "zeta")["tenants"]["zeta"]
    assert tenant["day_usd"] == pytest.approx(expected, rel=1e-6) and tenant["month_usd"] >= tenant["day_usd"]


def test_a_spent_budget_is_refused_with_insufficient_quota(a: GatewayProcess, b: GatewayProcess,
                                                           keys: Secrets) -> None:
    client(a, keys.broke).chat.completions.create(model="local-small", messages=MSG)  # type: ignore[arg-type]
    assert wait_for_spend(a, keys, "broke", "broke-1", 1e-9) >= 1e-9
    for gw in (a, b):
        with pytest.raises(openai.RateLimitError) as info:
            client(gw, keys.broke).chat.completions.create(model="local-small", messages=MSG)  # type: ignore[arg-type]
        assert info.value.code == "insufficient_quota" and "budget" in info.value.message
        assert 1 <= int(info.value.response.headers["retry-after"]) <= 86400


@pytest.fixture(scope="module")
def thrifty(sim: Any, start: Callable[[dict[str, Any]], GatewayProcess], prefix: str) -> GatewayProcess:
    """A replica of another deployment (its own Redis prefix): budgets downgrade, the response cache is on."""
    return start(tenancy_policy(sim.base_url, prefix + ":thrifty", cache=True, on_budget_exhausted="downgrade",
                                downgrade_to_tier=1))


def test_a_spent_budget_downgrades_the_tier_under_downgrade(thrifty: GatewayProcess, keys: Secrets) -> None:
    uncached = {"cache-control": "no-cache, no-store"}
    broke = client(thrifty, keys.broke)
    before = broke.chat.completions.with_raw_response.create(model="auto", messages=HARD, extra_headers=uncached)  # type: ignore[arg-type]
    assert int(before.headers["x-turnout-tier"]) > 1
    assert wait_for_spend(thrifty, keys, "broke", "broke-1", 1e-9) >= 1e-9
    after = broke.chat.completions.with_raw_response.create(model="auto", messages=HARD, extra_headers=uncached)  # type: ignore[arg-type]
    assert after.headers["x-turnout-tier"] == "1" and after.headers["x-turnout-model"] == "local-small"
    assert str(after.parse().choices[0].message.content).startswith("[local-small]")
    acme = client(thrifty, keys.acme).chat.completions.with_raw_response.create(
        model="auto", messages=HARD, extra_headers=uncached)  # type: ignore[arg-type]
    assert acme.headers["x-turnout-tier"] == before.headers["x-turnout-tier"]  # other keys keep their tier


def test_tenant_b_never_reads_tenant_a_cache_entries(thrifty: GatewayProcess, keys: Secrets) -> None:
    question = [{"role": "user", "content": f"What is the capital of France? ({uuid.uuid4().hex})"}]

    def ask(key: str) -> str:
        raw = client(thrifty, key).chat.completions.with_raw_response.create(model="local-small", messages=question)  # type: ignore[arg-type]
        return raw.headers["x-turnout-cache"]

    assert (ask(keys.acme), ask(keys.acme)) == ("miss", "hit-exact")
    assert (ask(keys.beta), ask(keys.beta)) == ("miss", "hit-exact")

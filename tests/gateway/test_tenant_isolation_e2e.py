"""One tenant cannot take a model offline for another (issue 18, row 2): requests a client got wrong
are refused with a 4xx and never count against a model's breaker. Real gateway process, real Redis,
the simulator as upstream (the direct path and litellm's), the real `openai` SDK for the victim.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GatewayProcess
from tests.gateway import test_tenancy_e2e as shared
from tests.gateway.tenancy_harness import MSG, Secrets, admin, tenancy_policy

prefix, keys, start = shared.prefix, shared.keys, shared.start
MODELS = ["local-small", "claude-sim", "auto"]  # the direct path, litellm's, and an alias


def _deep(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


def _malformed(model: str) -> list[dict[str, Any]]:
    """Bodies a careless or hostile client sends: each is its own fault, none is the model's."""
    user = {"role": "user", "content": "hi"}
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "p": _deep(300)}}}
    too_long = [{"model": model, "messages": [{"role": "user", "content": "word " * 40000}]}]  # past its window
    return [*(too_long if model == "local-small" else []),
        {"model": model, "messages": [user], "metadata": {"a": _deep(254)}},
        {"model": model, "messages": [user], "logit_bias": {"1": _deep(600)}},
        {"model": model, "messages": [user], "response_format": schema},
        {"model": model, "messages": [user], "tools": [{"type": "function", "function": {
            "name": "f", "parameters": {"type": "object", "properties": _deep(256, {})}}}]},
        {"model": model, "messages": [{"role": "user", "content": [{"type": "text", "text": _deep(280)}]}]},
        {"model": model, "messages": [{"role": "user", "content": [{"type": "weird"}]}]},
        {"model": model, "messages": [{"role": "user", "content": [{"type": "text", "text": 42}]}]},
        {"model": model, "messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
        {"model": model, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 7}]}]},
    ]


@pytest.fixture(scope="module")
def gw(sim: Any, start: Callable[[dict[str, Any]], GatewayProcess], prefix: str) -> GatewayProcess:
    policy = tenancy_policy(sim.base_url, prefix)
    policy["router"]["breaker"] = {"fail_max": 3, "reset_timeout_s": 60}
    policy["server"] = {"max_body_bytes": 1 << 20}
    return start(policy)


async def _attacker(gw: GatewayProcess, key: str, n: int) -> list[int]:
    bodies = [body for model in MODELS for body in _malformed(model)]
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=60,
                                 headers={"authorization": f"Bearer {key}"}) as http:
        for i in range(n):
            response = await http.post("/v1/chat/completions", json=bodies[i % len(bodies)])
            assert response.status_code != 200, i % len(bodies)
            assert response.headers["content-type"].startswith("application/json"), response.text
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}
            statuses.append(response.status_code)
    return statuses


async def _victim(gw: GatewayProcess, key: str, n: int) -> list[BaseException | None]:
    async with openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0, timeout=60) as aio:
        async def one(i: int) -> BaseException | None:
            try:
                await aio.chat.completions.create(model=MODELS[i % len(MODELS)], messages=MSG,  # type: ignore[arg-type]
                                                  stream=i % 2 == 0, max_tokens=8)
            except openai.APIError as exc:
                return exc
            return None

        results: list[BaseException | None] = []
        for i in range(n):
            results.append(await one(i))
            await asyncio.sleep(0.02)
        return results


async def test_a_malformed_flood_from_one_tenant_costs_another_nothing(gw: GatewayProcess, keys: Secrets) -> None:
    attacker = await asyncio.to_thread(shared.create_key, gw, keys, tenant="mallory")
    victim = await asyncio.to_thread(shared.create_key, gw, keys, tenant="alice")
    statuses, failures = await asyncio.gather(_attacker(gw, attacker["key"], 100), _victim(gw, victim["key"], 60))
    assert len(statuses) == 100 and all(400 <= s < 500 for s in statuses), sorted(set(statuses))
    assert [f for f in failures if f is not None] == []
    breakers = admin(gw, "GET", "/admin/breakers", keys.master).json()["breakers"]
    assert breakers and {(b["state"], b["failures"]) for b in breakers} == {("closed", 0)}, breakers


def test_the_route_api_is_rate_limited_and_size_limited(gw: GatewayProcess, keys: Secrets) -> None:
    issued = shared.create_key(gw, keys, tenant="router-user", limits={"requests_per_minute": 5})
    headers = {"authorization": f"Bearer {issued['key']}"}
    body = {"model": "auto", "messages": MSG}
    statuses = [httpx.post(gw.base_url + "/v1/route", json=body, headers=headers, timeout=30).status_code
                for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    other = shared.create_key(gw, keys, tenant="router-user-2")
    huge = {"model": "auto", "messages": [{"role": "user", "content": "word " * 20000}]}
    response = httpx.post(gw.base_url + "/v1/route", json=huge, timeout=30,
                          headers={"authorization": f"Bearer {other['key']}"})
    assert response.status_code == 413 and response.json()["error"]["param"] is None, response.text


async def test_a_concurrent_burst_overruns_a_budget_by_at_most_one_estimate(gw: GatewayProcess,
                                                                          keys: Secrets) -> None:
    """Row 3: each request reserves its estimated cost (dearest chat model, `max_tokens`) when admitted."""
    from router.upstream.tokens import estimate_tokens

    probe = await asyncio.to_thread(shared.create_key, gw, keys, tenant="burst-probe")
    async with openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=probe["key"], max_retries=0) as aio:
        one = await aio.chat.completions.create(model="claude-sim", messages=MSG, max_tokens=40)  # type: ignore[arg-type]
    assert one.usage is not None
    cost = (one.usage.prompt_tokens * 3 + one.usage.completion_tokens * 15) / 1e6  # claude-sim's prices
    estimate = (estimate_tokens(MSG) * 3 + 40 * 15) / 1e6  # the dearest chat model is claude-sim
    budget = 5 * cost
    issued = await asyncio.to_thread(shared.create_key, gw, keys, tenant="burst", limits={"budget_usd_per_day": budget})
    async with openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=issued["key"], max_retries=0,
                                  timeout=60) as aio:
        results = await asyncio.gather(*(aio.chat.completions.create(model="claude-sim", messages=MSG, max_tokens=40)  # type: ignore[arg-type]
                                         for _ in range(20)), return_exceptions=True)
    served = sum(1 for r in results if not isinstance(r, BaseException))
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert served + len(refused) == 20 and all(r.code == "insufficient_quota" for r in refused)
    await asyncio.sleep(1.0)  # settled off the response path, every 0.2 s
    spent = (await asyncio.to_thread(shared.spend, gw, keys, "burst"))["tenants"]["burst"]["day_usd"]
    print(f"burst of 20: served {served}, budget {budget:.6f}, spent {spent:.6f} ({spent / budget:.2f}x), "
          f"one request {cost:.6f}, one estimate {estimate:.6f}, overrun {max(0.0, spent - budget):.6f}")
    assert spent <= budget + estimate
    assert spent == pytest.approx(served * cost, rel=1e-6)  # reservations all replaced by real costs

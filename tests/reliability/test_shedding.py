"""Load shedding: past `server.max_in_flight` requests get 503 `overloaded` at once; probes still answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess
from tests.reliability.conftest import assert_openai_error, chat, reliability_policy, runtime, wait_for


async def test_requests_past_the_limit_are_shed_and_probes_still_answer(
        rsim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(reliability_policy(rsim.base_url, server={"max_in_flight": 3}))
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as client:
        first = [asyncio.create_task(client.post("/v1/chat/completions", json=chat("slow"))) for _ in range(3)]
        assert await asyncio.to_thread(wait_for, lambda: runtime(gw.base_url)["in_flight"] == 3, 10)
        shed = await asyncio.gather(*(client.post("/v1/chat/completions", json=chat("slow")) for _ in range(5)))
        probes = await asyncio.gather(client.get("/healthz"), client.get("/readyz"), client.get("/metrics"))
        done = await asyncio.gather(*first)
    assert [r.status_code for r in done] == [200, 200, 200]
    for response in shed:
        assert_openai_error(response, 503, "overloaded")
        assert response.headers["retry-after"] == "1"
        assert response.elapsed.total_seconds() < 1.0  # refused at once, not queued behind the 1.5 s ones
    assert [p.status_code for p in probes] == [200, 200, 200]
    assert wait_for(lambda: runtime(gw.base_url)["in_flight"] == 0, 5)
    assert runtime(gw.base_url)["shed"] == 5


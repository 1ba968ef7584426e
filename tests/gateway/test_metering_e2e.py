"""Every answer is metered (issue 18, row 1): streams are charged like plain answers, on the direct
and the litellm path, whether or not the client asked for usage; cut and abandoned streams are
charged for what was delivered. Real gateway processes over the real Redis, a simulator process,
the real `openai` SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from simulator.config import SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator
from tests.conftest import SIM_MODELS, GatewayProcess
from tests.gateway import test_tenancy_e2e as shared
from tests.gateway.tenancy_harness import Secrets, client, create_key, tenancy_policy, wait_for_spend

prefix, keys, start = shared.prefix, shared.keys, shared.start
MSG = [{"role": "user", "content": "Tell me about railway turnouts and how they switch trains"}]
PRICES = {"local-small": (0.1, 0.2), "claude-sim": (3.0, 15.0)}  # USD per million tokens (base_policy)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    """The shared models, plus one that streams slowly (to be abandoned half-way)."""
    paced = SimModel(name="paced", tokens_per_second=40, min_output_tokens=400, max_output_tokens=400)
    with start_simulator(SimulatorConfig(seed=3, models=(*SIM_MODELS, paced))) as process:
        yield process


@pytest.fixture(scope="module")
def gw(sim: SimulatorProcess, start: Callable[[dict[str, Any]], GatewayProcess], prefix: str) -> GatewayProcess:
    policy = tenancy_policy(sim.base_url, prefix)
    for name in ("cut-stream-m", "paced"):
        policy["models"].append({"id": name, "litellm_model": f"openai/{name}", "api_base": f"{sim.base_url}/v1",
                                 "price": {"input_per_mtok": 1.0, "output_per_mtok": 1000.0}})
    return start(policy)


def _cost(model: str, usage: Any) -> float:
    price_in, price_out = PRICES[model]
    return float(usage.prompt_tokens * price_in + usage.completion_tokens * price_out) / 1e6


@pytest.mark.parametrize("model", ["local-small", "claude-sim"])  # the direct path, then litellm's
def test_a_stream_is_charged_like_the_same_plain_answer(gw: GatewayProcess, keys: Secrets, model: str) -> None:
    plain_key, stream_key = create_key(gw, keys, tenant="meter"), create_key(gw, keys, tenant="meter")
    plain = client(gw, plain_key["key"]).chat.completions.create(model=model, messages=MSG)  # type: ignore[arg-type]
    assert plain.usage is not None
    expected = _cost(model, plain.usage)
    assert expected > 0
    chunks = list(client(gw, stream_key["key"]).chat.completions.create(model=model, messages=MSG, stream=True))  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert all(c.usage is None and c.choices for c in chunks), "a usage chunk reached a client that did not ask"
    used = wait_for_spend(gw, keys, "meter", stream_key["id"], expected * 0.999)
    assert used == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("model", ["local-small", "claude-sim"])
def test_a_client_that_asks_for_usage_gets_it_once_and_is_charged_once(gw: GatewayProcess, keys: Secrets,
                                                                       model: str) -> None:
    issued = create_key(gw, keys, tenant="meter")
    chunks = list(client(gw, issued["key"]).chat.completions.create(
        model=model, messages=MSG, stream=True, stream_options={"include_usage": True}))  # type: ignore[arg-type]
    usages = [c.usage for c in chunks if c.usage is not None]
    assert len(usages) == 1 and not chunks[-1].choices
    expected = _cost(model, usages[0])
    assert wait_for_spend(gw, keys, "meter", issued["id"], expected * 0.999) == pytest.approx(expected, rel=1e-6)


def test_a_cut_stream_is_charged_for_what_was_delivered(gw: GatewayProcess, keys: Secrets) -> None:
    issued = create_key(gw, keys, tenant="meter")
    with httpx.stream("POST", gw.base_url + "/v1/chat/completions", timeout=30,
                      headers={"authorization": f"Bearer {issued['key']}"},
                      json={"model": "cut-stream-m", "messages": MSG, "stream": True}) as response:
        body = b"".join(response.iter_bytes())
    assert response.status_code == 200 and b'"error"' in body and b"data: [DONE]" not in body
    # at least one output token at $1000 per million: the count of the delivered text, not zero
    assert wait_for_spend(gw, keys, "meter", issued["id"], 1e-3) >= 1e-3


def test_an_abandoned_stream_is_charged_for_what_was_delivered(gw: GatewayProcess, keys: Secrets) -> None:
    issued = create_key(gw, keys, tenant="meter")
    stream = client(gw, issued["key"]).chat.completions.create(model="paced", messages=MSG, stream=True)  # type: ignore[arg-type]
    text = ""
    for chunk in stream:
        text += chunk.choices[0].delta.content or "" if chunk.choices else ""
        if len(text) >= 40:
            break
    stream.close()
    delivered = wait_for_spend(gw, keys, "meter", issued["id"], 5e-3)
    # about four characters a token at $1000 per million output tokens; far below the whole answer
    assert 5e-3 <= delivered < 0.2, delivered

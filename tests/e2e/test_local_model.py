"""A real model behind Turnout: SmolLM2-135M on llama.cpp, called with the `openai` SDK through the
gateway, all as real processes (model server, simulator, gateway) on the `local` policy.

Skipped when the runtime is not built (`make local-model`); `.ci/run` builds it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI, OpenAI

from .processes import LOCAL_MODEL_ID, Proc, Stack

HOSTED_FALLBACK = "gpt-sim-mini"  # next in the `local-first` chain of policies/local.yaml
EASY = [{"role": "user", "content": "What is the capital of France? Answer in one short sentence."}]
SIMULATED = re.compile(r"^\[[\w.:/-]+\] echo:")

def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.gateway_url, api_key="unused", max_retries=0, timeout=30)


def assert_real_text(text: str | None) -> None:
    assert text is not None and text.strip(), "the model answered nothing"
    assert not SIMULATED.match(text), f"a simulated answer, not the real model's: {text!r}"


def request_log(gateway: Proc, request_id: str) -> dict[str, Any]:
    """The gateway's JSON log line for `request_id` that names the answering model (written when the
    answer is complete)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in gateway.output().splitlines():
            if request_id in line and line.startswith("{"):
                entry: dict[str, Any] = json.loads(line)
                if entry.get("request_id") == request_id and "model" in entry:
                    return entry
        time.sleep(0.05)
    pytest.fail(f"no request log line for {request_id}:\n{gateway.output()[-3000:]}")


@pytest.mark.parametrize("model", ["auto", "local-first", LOCAL_MODEL_ID])
def test_chat_completion_is_answered_by_the_real_model(stack: Stack, model: str) -> None:
    rid = f"e2e-local-{model}"
    # `auto` capped at tier 1 by the client hint, so this tests the tier-1 chain, not the classifier
    raw = client(stack).chat.completions.with_raw_response.create(
        model=model, messages=EASY, max_tokens=24, temperature=0,
        extra_headers={"x-request-id": rid, "x-turnout-max-tier": "1"})
    completion = raw.parse()

    assert raw.headers["x-turnout-model"] == LOCAL_MODEL_ID
    assert raw.headers["x-request-id"] == rid
    assert completion.model == LOCAL_MODEL_ID
    assert_real_text(completion.choices[0].message.content)
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    entry = request_log(stack.gateway, rid)
    assert entry["model"] == LOCAL_MODEL_ID
    assert entry.get("alias", entry.get("route")) == model


def test_streamed_chat_completion_is_answered_by_the_real_model(stack: Stack) -> None:
    rid = "e2e-local-stream"
    with client(stack).chat.completions.with_streaming_response.create(
            model="local-first", messages=EASY, max_tokens=24, temperature=0, stream=True,
            stream_options={"include_usage": True}, extra_headers={"x-request-id": rid}) as raw:
        assert raw.headers["x-turnout-model"] == LOCAL_MODEL_ID
        chunks = list(raw.parse())

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert_real_text(text)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1, "not streamed"
    assert {c.model for c in chunks} == {LOCAL_MODEL_ID}
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    entry = request_log(stack.gateway, rid)
    assert entry["model"] == LOCAL_MODEL_ID
    assert entry["ttft_ms"] is not None and entry["ttft_ms"] > 0


def test_the_real_model_answers_as_it_does_directly(stack: Stack) -> None:
    """Greedy decoding: the same prompt gives the same text through Turnout as from the server itself."""
    direct = OpenAI(base_url=stack.llama_url, api_key="unused", max_retries=0, timeout=30)
    args: dict[str, Any] = {"messages": EASY, "max_tokens": 16, "temperature": 0, "seed": 1}
    through = client(stack).chat.completions.create(model=LOCAL_MODEL_ID, **args)
    straight = direct.chat.completions.create(model=LOCAL_MODEL_ID, **args)
    assert through.choices[0].message.content == straight.choices[0].message.content


def breaker_state(stack: Stack, model: str) -> str:
    body = httpx.get(stack.gateway_url.removesuffix("/v1") + "/admin/breakers", timeout=5).json()
    state: str = next(b["state"] for b in body["breakers"] if b["model"] == model)
    return state


def metric(stack: Stack, name: str, **labels: str) -> float:
    """The sum of the gateway's Prometheus samples `name` whose labels include `labels`."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(stack.gateway_url.removesuffix("/v1") + "/metrics", timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


def test_metrics_count_the_real_model(stack: Stack) -> None:
    attempts = metric(stack, "turnout_upstream_attempts_total", model=LOCAL_MODEL_ID, outcome="ok")
    tokens = metric(stack, "turnout_tokens_total", model=LOCAL_MODEL_ID, direction="out")
    completion = client(stack).chat.completions.create(model="local-first", messages=EASY, max_tokens=8)

    assert completion.usage is not None
    assert metric(stack, "turnout_upstream_attempts_total", model=LOCAL_MODEL_ID, outcome="ok") == attempts + 1
    assert metric(stack, "turnout_tokens_total", model=LOCAL_MODEL_ID, direction="out") == (
        tokens + completion.usage.completion_tokens)


def test_a_dead_local_server_sends_traffic_down_the_chain_and_opens_its_breaker(own_stack: Stack) -> None:
    sdk = client(own_stack)
    first = sdk.chat.completions.with_raw_response.create(model="local-first", messages=EASY, max_tokens=8)
    assert first.headers["x-turnout-model"] == LOCAL_MODEL_ID

    own_stack.llama.kill()
    attempts = []
    for _ in range(4):
        raw = sdk.chat.completions.with_raw_response.create(model="local-first", messages=EASY, max_tokens=8)
        assert raw.headers["x-turnout-model"] == HOSTED_FALLBACK
        assert (raw.parse().choices[0].message.content or "").startswith(f"[{HOSTED_FALLBACK}]")
        attempts.append(int(raw.headers["x-turnout-attempts"]))
    assert attempts[0] >= 2, "the first request after the crash should have tried the local model"
    assert breaker_state(own_stack, LOCAL_MODEL_ID) == "open"
    assert metric(own_stack, "turnout_breaker_state", model=LOCAL_MODEL_ID, state="open") == 1
    assert metric(own_stack, "turnout_fallbacks_total", from_model=LOCAL_MODEL_ID, to_model=HOSTED_FALLBACK) >= 1
    assert attempts[-1] == 1, "an open breaker should skip the local model without calling it"

    with sdk.chat.completions.with_streaming_response.create(
            model="local-first", messages=EASY, max_tokens=8, stream=True) as raw_stream:
        assert raw_stream.headers["x-turnout-model"] == HOSTED_FALLBACK
        text = "".join(c.choices[0].delta.content or "" for c in raw_stream.parse() if c.choices)
    assert text.startswith(f"[{HOSTED_FALLBACK}]")


async def test_concurrent_requests_never_pile_onto_the_single_slot_model(stack: Stack) -> None:
    """max_concurrency 1: extra requests queue or go to the next model; every stream completes whole
    (llama-cpp-python's server cuts a running stream short when another request arrives)."""
    sdk = AsyncOpenAI(base_url=stack.gateway_url, api_key="unused", max_retries=0, timeout=30)

    async def one() -> tuple[str, str, str | None]:
        async with sdk.chat.completions.with_streaming_response.create(
                model="local-first", messages=EASY, max_tokens=32, temperature=0, stream=True) as raw:
            chunks = [c async for c in await raw.parse()]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = next((c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason),
                      None)
        return raw.headers["x-turnout-model"], text, finish

    results = await asyncio.gather(*(one() for _ in range(3)))
    await sdk.close()
    for model, text, finish in results:
        assert finish in {"stop", "length"}, f"{model} stream ended without a finish reason: {text!r}"
        if model == LOCAL_MODEL_ID:
            assert_real_text(text)
        else:
            assert text.startswith(f"[{model}]")
    assert LOCAL_MODEL_ID in {model for model, _, _ in results}

"""The direct adapter and the litellm adapter answer the same request the same way (content, finish
reason, tool calls, usage, embeddings), and fail it with the same error class and code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from router.errors import TurnoutError, UpstreamError
from router.upstream.base import Chunk, Upstream, UpstreamRequest
from router.upstream.litellm_adapter import LiteLLMUpstream
from router.upstream.openai_http import OpenAIHTTPUpstream
from simulator.process import SimulatorProcess
from tests.router.upstream.conftest import sim_spec

# litellm's first stream builds a pydantic schema that warns about a TypedDict (third-party, harmless)
pytestmark = pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")

MSG = [{"role": "user", "content": "Describe a lighthouse."}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"term": {"type": "string"}, "limit": {"type": "integer"}}}}}]
BODIES: dict[str, dict[str, Any]] = {
    "plain": {"messages": MSG, "seed": 1},
    "max_tokens": {"messages": MSG, "max_tokens": 5},
    "stop": {"messages": MSG, "stop": ["the"]},
    "tools": {"messages": MSG, "tools": TOOLS, "tool_choice": "auto"},
    "n=2": {"messages": MSG, "n": 2},
}


@pytest.fixture(scope="module")
def litellm_adapter() -> Iterator[LiteLLMUpstream]:
    yield LiteLLMUpstream()


def summary(body: dict[str, Any]) -> dict[str, Any]:
    choices = []
    for choice in body["choices"]:
        message = choice["message"]
        calls = [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or ()]
        choices.append((choice["index"], message.get("content"), calls, choice["finish_reason"]))
    usage = {k: body["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return {"choices": choices, "usage": usage}


def stream_summary(chunks: list[Chunk]) -> dict[str, Any]:
    text: dict[int, str] = {}
    args: dict[int, str] = {}
    names: dict[int, str] = {}
    finish: dict[int, str] = {}
    usage: dict[str, int] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            i, delta = choice["index"], choice.get("delta") or {}
            text[i] = text.get(i, "") + (delta.get("content") or "")
            for call in delta.get("tool_calls") or ():
                names[i] = names.get(i, "") + (call["function"].get("name") or "")
                args[i] = args.get(i, "") + (call["function"].get("arguments") or "")
            if choice.get("finish_reason"):
                finish[i] = choice["finish_reason"]
        if chunk.get("usage"):
            usage = {k: chunk["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return {"text": text, "names": names, "args": args, "finish": finish, "usage": usage}


async def both(litellm_adapter: LiteLLMUpstream, request: UpstreamRequest) -> list[Any]:
    direct = OpenAIHTTPUpstream()
    results = []
    try:
        for upstream in (direct, litellm_adapter):
            results.append(await call(upstream, request))
    finally:
        await direct.aclose()
    return results


async def call(upstream: Upstream, request: UpstreamRequest) -> Any:
    response = await upstream.send(request)
    if response.stream is not None:
        return stream_summary([chunk async for chunk in response.stream])
    assert response.body is not None
    return summary(response.body) if request.kind == "chat" else response.body


@pytest.mark.parametrize("case", list(BODIES))
async def test_plain_answers_match(litellm_adapter: LiteLLMUpstream, upstream_sim: SimulatorProcess,
                                   case: str) -> None:
    request = UpstreamRequest(spec=sim_spec(upstream_sim, "plain"), body=BODIES[case])
    direct, via_litellm = await both(litellm_adapter, request)
    assert direct == via_litellm
    assert direct["choices"] and direct["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("case", ["plain", "tools", "max_tokens"])
async def test_streams_match(litellm_adapter: LiteLLMUpstream, upstream_sim: SimulatorProcess, case: str) -> None:
    body = {**BODIES[case], "stream_options": {"include_usage": True}}
    request = UpstreamRequest(spec=sim_spec(upstream_sim, "plain"), body=body, stream=True)
    direct, via_litellm = await both(litellm_adapter, request)
    assert direct == via_litellm
    assert direct["finish"] and direct["usage"]


async def test_embeddings_match(litellm_adapter: LiteLLMUpstream, upstream_sim: SimulatorProcess) -> None:
    request = UpstreamRequest(spec=sim_spec(upstream_sim, "emb"), body={"input": ["a", "b c"]}, kind="embeddings")
    direct, via_litellm = await both(litellm_adapter, request)
    assert [d["embedding"] for d in direct["data"]] == [d["embedding"] for d in via_litellm["data"]]
    assert direct["usage"]["prompt_tokens"] == via_litellm["usage"]["prompt_tokens"]


LONG = [{"role": "user", "content": "word " * 400}]


@pytest.mark.parametrize(("model", "messages"), [
    ("error-500", MSG), ("error-503", MSG), ("rate-limit", MSG), ("no-such-model", MSG), ("plain", LONG),
    ("timeout-3000ms", MSG),
])
async def test_errors_match(litellm_adapter: LiteLLMUpstream, upstream_sim: SimulatorProcess, model: str,
                            messages: list[dict[str, Any]]) -> None:
    request = UpstreamRequest(spec=sim_spec(upstream_sim, model), body={"messages": messages}, timeout=0.5)
    errors = []
    direct = OpenAIHTTPUpstream()
    try:
        for upstream in (direct, litellm_adapter):
            with pytest.raises(TurnoutError) as caught:
                await upstream.send(request)
            errors.append((type(caught.value).__name__, caught.value.code, caught.value.message))
    finally:
        await direct.aclose()
    assert errors[0] == errors[1]


@pytest.mark.parametrize(("model", "stream", "direct_error", "litellm_error"), [
    ("reset", False, "UpstreamUnavailable", "UpstreamError"),
    ("cut-stream", True, "UpstreamError", "UpstreamUnavailable"),
    ("malformed", True, "UpstreamError", "UpstreamUnavailable"),
])
async def test_broken_connections_are_upstream_errors_in_both(litellm_adapter: LiteLLMUpstream,
                                                              upstream_sim: SimulatorProcess, model: str,
                                                              stream: bool, direct_error: str,
                                                              litellm_error: str) -> None:
    """The one deliberate difference: a reset before any answer is "unavailable" (503) directly, while
    litellm calls it a 502; a stream broken after it opened is a 502 directly (the model did answer),
    while litellm calls it unavailable. Both are retryable upstream errors either way."""
    request = UpstreamRequest(spec=sim_spec(upstream_sim, model), body={"messages": MSG}, stream=stream)
    direct = OpenAIHTTPUpstream()
    names = []
    try:
        for upstream in (direct, litellm_adapter):
            with pytest.raises(UpstreamError) as caught:
                await call(upstream, request)
            assert caught.value.retryable
            names.append(type(caught.value).__name__)
    finally:
        await direct.aclose()
    assert names == [direct_error, litellm_error]

"""The direct adapter against the real simulator process: answers, streams, embeddings, every fault."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

import pytest

from registry import ModelSpec
from router.errors import (
    ContextWindowExceeded,
    RateLimited,
    TurnoutError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from router.upstream.base import Chunk, UpstreamRequest
from router.upstream.openai_http import OpenAIHTTPUpstream
from simulator.process import SimulatorProcess
from tests.conftest import free_port
from tests.router.upstream.conftest import sim_spec

MSG = [{"role": "user", "content": "Name a colour."}]
KEY = "sk-test-secret-key-123"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


async def collect(upstream: OpenAIHTTPUpstream, request: UpstreamRequest) -> list[Chunk]:
    response = await upstream.send(request)
    assert response.stream is not None and response.body is None
    return [chunk async for chunk in response.stream]


def text_of(chunks: list[Chunk]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


async def test_plain_answer_is_the_upstream_body_with_the_model_rewritten(
        direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess) -> None:
    spec = sim_spec(upstream_sim, "plain")
    response = await direct.send(UpstreamRequest(spec=spec, body={"model": "ignored", "messages": MSG}))
    assert response.stream is None and response.body is not None
    body = response.body
    assert body["object"] == "chat.completion"
    assert body["model"] == "plain"  # the name after `openai/`, not our id
    assert body["choices"][0]["message"]["content"].startswith("[plain]")
    assert body["choices"][0]["finish_reason"] in ("stop", "length")
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]


async def test_stream_yields_chunk_dicts_that_add_up_to_the_plain_answer(
        direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess) -> None:
    spec = sim_spec(upstream_sim, "plain")
    plain = await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG, "seed": 4}))
    chunks = await collect(direct, UpstreamRequest(spec=spec, body={"messages": MSG, "seed": 4}, stream=True))
    assert plain.body is not None
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert text_of(chunks) == plain.body["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == plain.body["choices"][0]["finish_reason"]
    assert not any("usage" in c for c in chunks)


async def test_stream_with_include_usage_ends_with_a_usage_chunk(
        direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess) -> None:
    body = {"messages": MSG, "stream_options": {"include_usage": True}}
    chunks = await collect(direct, UpstreamRequest(spec=sim_spec(upstream_sim, "plain"), body=body, stream=True))
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_come_back(direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess,
                                    stream: bool) -> None:
    body = {"messages": MSG, "tools": TOOLS, "tool_choice": "required"}
    request = UpstreamRequest(spec=sim_spec(upstream_sim, "plain"), body=body, stream=stream)
    if stream:
        chunks = await collect(direct, request)
        calls = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls") or ()]
        assert calls[0]["function"]["name"] == "get_weather"
        arguments = "".join(call["function"].get("arguments") or "" for call in calls)
        finish = chunks[-1]["choices"][0]["finish_reason"]
    else:
        response = await direct.send(request)
        assert response.body is not None
        choice = response.body["choices"][0]
        call = choice["message"]["tool_calls"][0]
        assert call["function"]["name"] == "get_weather"
        arguments, finish = call["function"]["arguments"], choice["finish_reason"]
    assert "city" in arguments
    assert finish == "tool_calls"


async def test_embeddings(direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess) -> None:
    spec = sim_spec(upstream_sim, "emb")
    body = {"model": "x", "input": ["one", "two"], "dimensions": 8}
    response = await direct.send(UpstreamRequest(spec=spec, body=body, kind="embeddings"))
    assert response.body is not None
    assert [d["index"] for d in response.body["data"]] == [0, 1]
    assert all(len(d["embedding"]) == 8 for d in response.body["data"])
    assert response.body["model"] == "emb"


LONG = [{"role": "user", "content": "word " * 400}]  # over `plain`'s 200-token window
FAULTS: list[tuple[str, list[dict[str, Any]], type[TurnoutError], str]] = [
    # simulator model, messages, error class (exact), code
    ("error-500", MSG, UpstreamError, "bad_gateway"),
    ("error-503", MSG, UpstreamUnavailable, "service_unavailable"),
    ("rate-limit", MSG, RateLimited, "rate_limit_exceeded"),
    ("timeout-3000ms", MSG, UpstreamTimeout, "upstream_timeout"),
    ("reset", MSG, UpstreamUnavailable, "service_unavailable"),
    ("no-such-model", MSG, UpstreamError, "upstream_not_found"),
    ("plain", LONG, ContextWindowExceeded, "context_length_exceeded"),
]
STREAM_FAULTS = [
    ("cut-stream", UpstreamError, "upstream_stream_cut"),
    ("malformed", UpstreamError, "upstream_invalid_response"),
]


def assert_clean(error: TurnoutError, spec_id: str, port: int) -> None:
    """The message names our model id, never the upstream URL, port, or key."""
    text = str(error) + repr((error.message, error.param, error.code))
    assert spec_id in error.message
    for secret in ("127.0.0.1", str(port), "localhost", KEY, "http"):
        assert secret not in text


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(("model", "messages", "error", "code"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_faults_map_to_our_errors(direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess, model: str,
                                        messages: list[dict[str, Any]], error: type[TurnoutError], code: str,
                                        stream: bool) -> None:
    spec = sim_spec(upstream_sim, model, timeouts={"total": 0.5, "first_token": 0.5})
    request = UpstreamRequest(spec=spec, body={"messages": messages}, stream=stream, api_key=KEY)
    with pytest.raises(TurnoutError) as caught:
        await collect(direct, request) if stream else await direct.send(request)
    assert type(caught.value) is error
    assert caught.value.code == code
    assert_clean(caught.value, spec.id, upstream_sim.port)


@pytest.mark.parametrize(("model", "error", "code"), STREAM_FAULTS, ids=[f[0] for f in STREAM_FAULTS])
async def test_broken_streams_raise_after_the_good_chunks(direct: OpenAIHTTPUpstream,
                                                          upstream_sim: SimulatorProcess, model: str,
                                                          error: type[TurnoutError], code: str) -> None:
    spec = sim_spec(upstream_sim, model)
    response = await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=True, api_key=KEY))
    assert response.stream is not None
    received: list[Chunk] = []
    with pytest.raises(TurnoutError) as caught:
        async for chunk in response.stream:
            received.append(chunk)
    assert len(received) == 2  # the simulator strikes after two chunks
    assert type(caught.value) is error and caught.value.code == code
    assert_clean(caught.value, spec.id, upstream_sim.port)
    # the adapter is fine afterwards: the broken connection was not pooled
    assert (await direct.send(UpstreamRequest(spec=sim_spec(upstream_sim, "plain"), body={"messages": MSG}))).body


async def test_rate_limit_carries_retry_after(direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess) -> None:
    with pytest.raises(RateLimited) as caught:
        await direct.send(UpstreamRequest(spec=sim_spec(upstream_sim, "limited"), body={"messages": MSG}))
    assert caught.value.retry_after == 3.0


async def test_connection_refused_is_unavailable(direct: OpenAIHTTPUpstream) -> None:
    port = free_port()
    spec = ModelSpec(id="turnout-nowhere", litellm_model="hosted_vllm/org/model",
                     api_base=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(UpstreamUnavailable) as caught:
        await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, api_key=KEY))
    assert_clean(caught.value, spec.id, port)


@pytest.mark.parametrize(("request_timeout", "spec_total"), [(0.3, 60.0), (None, 0.3)],
                         ids=["request-timeout", "spec-total"])
async def test_plain_timeout_is_honoured(direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess,
                                         request_timeout: float | None, spec_total: float) -> None:
    spec = sim_spec(upstream_sim, "slow-2000ms", timeouts={"total": spec_total})
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, timeout=request_timeout))
    assert 0.25 < time.monotonic() - started < 1.5


async def test_stream_first_chunk_timeout(direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess) -> None:
    spec = sim_spec(upstream_sim, "slow-2000ms", timeouts={"first_token": 0.3, "total": 60})
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await collect(direct, UpstreamRequest(spec=spec, body={"messages": MSG}, stream=True))
    assert 0.25 < time.monotonic() - started < 1.5


async def test_stream_idle_gap_between_chunks(direct: OpenAIHTTPUpstream, upstream_sim: SimulatorProcess) -> None:
    # `paced` sends its first chunk at once, then one every 0.2 s: over a 0.05 s idle limit
    spec = sim_spec(upstream_sim, "paced", timeouts={"first_token": 5, "idle": 0.05})
    response = await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=True))
    assert response.stream is not None
    received: list[Chunk] = []
    with pytest.raises(UpstreamTimeout) as caught:
        async for chunk in response.stream:
            received.append(chunk)
    assert len(received) == 1
    assert spec.id in caught.value.message


async def test_paced_stream_within_its_idle_gap_completes(direct: OpenAIHTTPUpstream,
                                                          upstream_sim: SimulatorProcess) -> None:
    spec = sim_spec(upstream_sim, "paced", timeouts={"first_token": 5, "idle": 1})
    chunks = await collect(direct, UpstreamRequest(spec=spec, body={"messages": MSG, "max_tokens": 3}, stream=True))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


async def test_a_slow_reader_is_not_an_idle_upstream(direct: OpenAIHTTPUpstream,
                                                     upstream_sim: SimulatorProcess) -> None:
    # the idle gap times the upstream's silence while we wait, not the time the consumer takes
    spec = sim_spec(upstream_sim, "plain", timeouts={"first_token": 0.1, "idle": 0.05})
    response = await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=True))
    assert response.stream is not None
    received: list[Chunk] = []
    async for chunk in response.stream:
        received.append(chunk)
        if len(received) <= 3:
            await asyncio.sleep(0.15)
    assert received[-1]["choices"][0]["finish_reason"] is not None


async def test_closing_a_stream_early_leaves_the_adapter_usable(direct: OpenAIHTTPUpstream,
                                                                upstream_sim: SimulatorProcess) -> None:
    spec = sim_spec(upstream_sim, "paced", timeouts={"first_token": 5, "idle": 5})
    response = await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=True))
    assert response.stream is not None
    first = await anext(response.stream)
    assert first["choices"][0]["delta"]["role"] == "assistant"
    await response.stream.aclose()  # type: ignore[attr-defined]
    with pytest.raises(StopAsyncIteration):
        await anext(response.stream)
    plain = await direct.send(UpstreamRequest(spec=sim_spec(upstream_sim, "plain"), body={"messages": MSG}))
    assert plain.body is not None


async def test_aclose_then_send_opens_a_fresh_pool(upstream_sim: SimulatorProcess) -> None:
    upstream = OpenAIHTTPUpstream()
    request = UpstreamRequest(spec=sim_spec(upstream_sim, "plain"), body={"messages": MSG})
    assert (await upstream.send(request)).body
    await upstream.aclose()
    assert (await upstream.send(request)).body
    await upstream.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_cancellation_propagates_and_leaves_the_adapter_usable(direct: OpenAIHTTPUpstream,
                                                                     upstream_sim: SimulatorProcess,
                                                                     stream: bool) -> None:
    spec = sim_spec(upstream_sim, "slow-2000ms")
    task = asyncio.create_task(direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=stream)))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    plain = await direct.send(UpstreamRequest(spec=sim_spec(upstream_sim, "plain"), body={"messages": MSG}))
    assert plain.body is not None


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_connect_timeout_is_honoured(direct: OpenAIHTTPUpstream, stream: bool) -> None:
    # a listener that never accepts, its backlog filled: the next connection's SYN goes unanswered
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        spec = ModelSpec(id="turnout-unanswered", litellm_model="openai/x", api_base=f"http://127.0.0.1:{port}/v1",
                         timeouts={"connect": 0.3, "total": 10, "first_token": 10})
        started = time.monotonic()
        try:
            with pytest.raises(UpstreamTimeout) as caught:
                await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=stream))
        finally:
            for filler in fillers:
                filler.close()
    assert 0.25 < time.monotonic() - started < 2
    assert_clean(caught.value, spec.id, port)

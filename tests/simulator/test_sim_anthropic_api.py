"""The Anthropic Messages API, over raw HTTP and through litellm's `anthropic/` provider; and litellm's
`openai/` provider against the OpenAI side."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from simulator.process import SimulatorProcess

TOOL = {"name": "lookup", "description": "Look a word up.", "input_schema": {
    "type": "object", "properties": {"word": {"type": "string"}, "limit": {"type": "integer"}},
    "required": ["word", "limit"]}}
OPENAI_TOOL = {"type": "function", "function": {"name": "lookup", "parameters": TOOL["input_schema"]}}


def messages(**extra: object) -> dict[str, object]:
    return {"model": "claude-sim", "max_tokens": 100, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Name three rivers"}], **extra}


def sse_events(client: httpx.Client, body: dict[str, object]) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("POST", "/v1/messages", json=body) as answer:
        name = ""
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_message_answer_shape(client: httpx.Client) -> None:
    body = client.post("/v1/messages", json=messages(stop_sequences=["three"])).json()
    assert body["type"] == "message" and body["role"] == "assistant" and body["model"] == "claude-sim"
    assert body["content"] == [{"type": "text", "text": "[claude-sim] echo: Name"}]
    assert body["stop_reason"] == "stop_sequence" and body["stop_sequence"] == "three"
    assert body["usage"] == {"input_tokens": 5, "output_tokens": 3}
    short = client.post("/v1/messages", json=messages(max_tokens=2)).json()
    assert short["stop_reason"] == "max_tokens"


def test_message_stream_event_sequence(client: httpx.Client) -> None:
    events = sse_events(client, messages(stream=True))
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[2:-3]) == {"content_block_delta"}
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    whole = client.post("/v1/messages", json=messages()).json()
    assert text == whole["content"][0]["text"]
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert events[-2][1]["usage"]["output_tokens"] == whole["usage"]["output_tokens"]


def test_streamed_tool_use_sends_input_json_deltas(client: httpx.Client) -> None:
    events = sse_events(client, messages(stream=True, tools=[TOOL]))
    assert events[1][1]["content_block"]["type"] == "tool_use"
    partial = "".join(d["delta"]["partial_json"] for n, d in events if n == "content_block_delta")
    assert set(json.loads(partial)) == {"word", "limit"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


@pytest.fixture
def litellm_base(client: httpx.Client, sim: SimulatorProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # read when litellm is first imported
    return sim.base_url


async def test_litellm_anthropic_provider_whole_and_streamed(litellm_base: str) -> None:
    import litellm

    args: dict[str, Any] = {"model": "anthropic/claude-sim", "api_base": litellm_base, "api_key": "sk-sim",
                            "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Tell me a story"}], "max_tokens": 50}
    whole = await litellm.acompletion(**args)
    text = whole.choices[0].message.content
    assert text.startswith("[claude-sim] echo: Tell me a story")
    assert whole.usage.prompt_tokens == 6
    stream = await litellm.acompletion(**args, stream=True)
    pieces = [chunk.choices[0].delta.content or "" async for chunk in stream]
    assert "".join(pieces) == text


async def test_litellm_anthropic_provider_tool_calls(litellm_base: str) -> None:
    import litellm

    args: dict[str, Any] = {"model": "anthropic/claude-sim", "api_base": litellm_base, "api_key": "sk-sim",
                            "messages": [{"role": "user", "content": "define river"}], "tools": [OPENAI_TOOL]}
    whole = await litellm.acompletion(**args)
    call = whole.choices[0].message.tool_calls[0]
    assert whole.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "lookup"
    assert set(json.loads(call.function.arguments)) == {"word", "limit"}
    stream = await litellm.acompletion(**args, stream=True)
    arguments = ""
    async for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            arguments += delta.function.arguments or ""
    assert json.loads(arguments) == json.loads(call.function.arguments)


async def test_litellm_maps_rate_limits_and_context_errors(litellm_base: str) -> None:
    import litellm

    async with httpx.AsyncClient(base_url=litellm_base) as control:
        await control.post("/_sim/faults", json={"model": "claude-sim", "faults": [{"kind": "rate_limit"}]})
    with pytest.raises(litellm.exceptions.RateLimitError):
        await litellm.acompletion(model="anthropic/claude-sim", api_base=litellm_base, api_key="sk-sim",
                                  messages=[{"role": "user", "content": "hi"}], max_retries=0)
    with pytest.raises(litellm.exceptions.ContextWindowExceededError):
        await litellm.acompletion(model="openai/tiny", api_base=litellm_base + "/v1", api_key="sk-sim",
                                  messages=[{"role": "user", "content": "word " * 60}], max_retries=0)


async def test_litellm_openai_provider_whole_and_streamed(litellm_base: str) -> None:
    import litellm

    args: dict[str, Any] = {"model": "openai/beta", "api_base": litellm_base + "/v1", "api_key": "sk-sim",
                            "messages": [{"role": "user", "content": "Through litellm"}]}
    whole = await litellm.acompletion(**args)
    text = whole.choices[0].message.content
    assert text.startswith("[beta] echo: Through litellm")
    stream = await litellm.acompletion(**args, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream]) == text
    vectors = await litellm.aembedding(model="openai/emb", api_base=litellm_base + "/v1", api_key="sk-sim",
                                       input=["a b c"])
    assert len(vectors.data[0]["embedding"]) == 32


def test_tool_result_turn_answers_in_text(client: httpx.Client) -> None:
    body = client.post("/v1/messages", json=messages(tools=[TOOL], messages=[
        {"role": "user", "content": "define river"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup",
                                           "input": {"word": "river", "limit": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a stream"}]},
    ])).json()
    assert body["stop_reason"] == "end_turn"
    assert body["content"][0]["text"].startswith("[claude-sim] echo: a stream")
    forced = client.post("/v1/messages", json=messages(
        tools=[TOOL], tool_choice={"type": "tool", "name": "lookup"})).json()
    assert forced["content"][0]["type"] == "tool_use" and forced["stop_reason"] == "tool_use"
    off = client.post("/v1/messages", json=messages(tools=[TOOL], tool_choice={"type": "none"})).json()
    assert off["content"][0]["type"] == "text"

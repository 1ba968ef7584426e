"""The real `openai` SDK through a real gateway process to simulated upstreams (OpenAI and Anthropic)."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import GatewayProcess


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="sk-anything", max_retries=0)


@pytest.mark.parametrize("model", ["local-small", "local-medium", "claude-sim"])
def test_chat_answers_come_from_the_requested_model(client: openai.OpenAI, model: str) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Say hello to the turnout"}], user="u-1", seed=1)
    completion = raw.parse()
    assert raw.headers["x-turnout-model"] == model
    assert completion.model == model
    assert completion.choices[0].message.content.startswith(f"[{model}]")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_alias_auto_maps_to_a_configured_model(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-turnout-model"] in {"local-small", "local-medium", "claude-sim"}
    assert raw.headers["x-request-id"]


@pytest.mark.parametrize("model", ["local-small", "claude-sim"])
def test_stream_with_usage(client: openai.OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Tell me a story"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith(f"[{model}]")
    assert len([c for c in chunks if c.choices]) > 2
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]


@pytest.mark.parametrize("model", ["local-medium", "claude-sim"])
def test_tool_calls(client: openai.OpenAI, model: str) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools,  # type: ignore[arg-type]
        tool_choice="auto")
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert isinstance(json.loads(call.function.arguments)["city"], str)  # type: ignore[union-attr]


def test_streamed_tool_call(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}]
    stream = client.chat.completions.create(
        model="local-small", messages=[{"role": "user", "content": "look it up"}], tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "lookup"}}, stream=True)
    args = ""
    names = set()
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            if call.function and call.function.name:
                names.add(call.function.name)
            args += (call.function.arguments or "") if call.function else ""
    assert names == {"lookup"}
    assert "q" in json.loads(args)


def test_json_schema_response_format(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    completion = client.chat.completions.create(
        model="local-medium", messages=[{"role": "user", "content": "A person"}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}})
    data = json.loads(completion.choices[0].message.content or "")
    assert isinstance(data["name"], str) and isinstance(data["age"], int)


def test_n_stop_and_max_tokens(client: openai.OpenAI) -> None:
    several = client.chat.completions.create(
        model="local-small", messages=[{"role": "user", "content": "hello"}], n=3)
    assert [c.index for c in several.choices] == [0, 1, 2]
    short = client.chat.completions.create(
        model="local-small", messages=[{"role": "user", "content": "hello there"}], max_completion_tokens=3)
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens <= 3
    full = client.chat.completions.create(model="local-small", messages=[{"role": "user", "content": "hello"}])
    text = full.choices[0].message.content or ""
    stop_word = text.split()[2]
    cut = client.chat.completions.create(
        model="local-small", messages=[{"role": "user", "content": "hello"}], stop=[stop_word])
    assert stop_word not in (cut.choices[0].message.content or "")


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="local-embed", input=["alpha", "beta"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 32
    assert result.data[0].embedding != result.data[1].embedding


def test_models_lists_aliases_and_models(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"auto", "local-small", "local-medium", "claude-sim", "local-embed"} <= ids


async def test_async_client(gateway: GatewayProcess) -> None:
    client = openai.AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key="x", max_retries=0)
    completion = await client.chat.completions.create(
        model="claude-sim", messages=[{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Hi"}])
    assert (completion.choices[0].message.content or "").startswith("[claude-sim]")
    stream = await client.chat.completions.create(
        model="local-medium", messages=[{"role": "user", "content": "Hi"}], stream=True)
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(parts).startswith("[local-medium]")
    await client.close()

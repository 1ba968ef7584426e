"""The OpenAI-compatible endpoints, driven by the real openai SDK against a real simulator process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from simulator.process import SimulatorProcess

WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "unit": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city", "days", "unit"],
        },
    },
}
SEARCH: Any = {"type": "function", "function": {"name": "search", "parameters": {
    "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}


@pytest.fixture
def oai(client: httpx.Client, sim: SimulatorProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=sim.openai_base_url, api_key="sk-sim", max_retries=0) as sdk:
        yield sdk


def ask(oai: openai.OpenAI, model: str, text: str, **extra: Any) -> ChatCompletion:
    done = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **extra)
    assert isinstance(done, ChatCompletion)
    return done


def test_answer_names_its_model_and_echoes_the_prompt(oai: openai.OpenAI) -> None:
    done = ask(oai, "alpha", "Where do rivers go")
    text = done.choices[0].message.content or ""
    assert text.startswith("[alpha] echo: Where do rivers go ")
    assert done.model == "alpha"
    assert done.choices[0].finish_reason == "stop"
    assert 20 <= len(text.split()) <= 40
    assert done.usage is not None
    assert done.usage.prompt_tokens == 4
    assert done.usage.completion_tokens == len(text.split())
    assert ask(oai, "beta", "Where do rivers go").choices[0].message.content.startswith("[beta] ")  # type: ignore[union-attr]


def test_answers_are_deterministic_per_prompt_and_seed(oai: openai.OpenAI) -> None:
    first = ask(oai, "alpha", "same prompt").choices[0].message.content
    assert ask(oai, "alpha", "same prompt").choices[0].message.content == first
    assert ask(oai, "alpha", "other prompt").choices[0].message.content != first
    assert ask(oai, "alpha", "same prompt", seed=5).choices[0].message.content != first


def test_stream_matches_the_whole_answer_and_reports_usage(oai: openai.OpenAI) -> None:
    whole = ask(oai, "alpha", "stream me please")
    chunks = list(oai.chat.completions.create(
        model="alpha", messages=[{"role": "user", "content": "stream me please"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_max_tokens_truncates_with_finish_length(oai: openai.OpenAI) -> None:
    done = ask(oai, "alpha", "cut me short", max_tokens=4)
    assert done.choices[0].finish_reason == "length"
    assert done.choices[0].message.content == "[alpha] echo: cut me"
    assert done.usage is not None and done.usage.completion_tokens == 4
    newer = ask(oai, "alpha", "cut me short", max_completion_tokens=3)
    assert newer.choices[0].message.content == "[alpha] echo: cut"


def test_stop_sequence_cuts_the_answer(oai: openai.OpenAI) -> None:
    done = ask(oai, "alpha", "one two HALT three", stop=["HALT", "never"])
    assert done.choices[0].message.content == "[alpha] echo: one two"
    assert done.choices[0].finish_reason == "stop"


def test_n_gives_distinct_choices(oai: openai.OpenAI) -> None:
    done = ask(oai, "alpha", "several please", n=3)
    texts = [c.message.content for c in done.choices]
    assert [c.index for c in done.choices] == [0, 1, 2]
    assert all(t and t.startswith("[alpha] echo: several please") for t in texts)
    assert len(set(texts)) == 3


def test_tool_call_to_the_first_tool_matches_its_schema(oai: openai.OpenAI) -> None:
    done = ask(oai, "alpha", "weather in Oslo?", tools=[WEATHER, SEARCH])
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])  # type: ignore[union-attr]


def test_tool_choice_names_the_tool_or_turns_tools_off(oai: openai.OpenAI) -> None:
    named = ask(oai, "alpha", "find it", tools=[WEATHER, SEARCH],
                tool_choice={"type": "function", "function": {"name": "search"}})
    assert named.choices[0].message.tool_calls[0].function.name == "search"  # type: ignore[index, union-attr]
    off = ask(oai, "alpha", "find it", tools=[WEATHER, SEARCH], tool_choice="none")
    assert off.choices[0].finish_reason == "stop"
    assert (off.choices[0].message.content or "").startswith("[alpha] ")


def test_after_a_tool_result_auto_answers_in_text(oai: openai.OpenAI) -> None:
    done = oai.chat.completions.create(model="alpha", tools=[WEATHER], messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ])
    assert done.choices[0].finish_reason == "stop"
    assert (done.choices[0].message.content or "").startswith("[alpha] echo: weather?")


def test_streamed_tool_call_arrives_as_argument_deltas(oai: openai.OpenAI) -> None:
    chunks: list[ChatCompletionChunk] = list(oai.chat.completions.create(
        model="alpha", messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER], stream=True))
    deltas = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function is not None and deltas[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    jsonschema.validate(json.loads(arguments), WEATHER["function"]["parameters"])
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_schema_response_format_is_valid_against_the_schema(oai: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {
        "title": {"type": "string", "minLength": 3},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "author": {"$ref": "#/$defs/person"},
        "status": {"anyOf": [{"type": "null"}, {"enum": ["draft", "done"]}]},
    }, "required": ["title", "tags", "score", "author", "status"],
        "$defs": {"person": {"type": "object", "properties": {"name": {"type": "string"},
                                                             "age": {"type": "integer"}}}}}
    done = ask(oai, "alpha", "describe", response_format={
        "type": "json_schema", "json_schema": {"name": "doc", "schema": schema, "strict": True}})
    jsonschema.validate(json.loads(done.choices[0].message.content or ""), schema)


def test_json_object_response_format_names_the_model(oai: openai.OpenAI) -> None:
    done = ask(oai, "beta", "as json", response_format={"type": "json_object"})
    body = json.loads(done.choices[0].message.content or "")
    assert body["model"] == "beta"
    assert body["answer"].startswith("[beta] echo: as json")


def test_embeddings_are_deterministic_unit_vectors(oai: openai.OpenAI) -> None:
    done = oai.embeddings.create(model="emb", input=["red apples", "red apples", "blue ocean waves"])
    vectors = [d.embedding for d in done.data]
    assert [len(v) for v in vectors] == [32, 32, 32]
    assert vectors[0] == vectors[1] != vectors[2]
    assert abs(sum(x * x for x in vectors[2]) - 1.0) < 1e-5
    assert done.usage.prompt_tokens == 7
    floats = oai.embeddings.create(model="alpha", input="red apples", encoding_format="float")
    assert len(floats.data[0].embedding) == 64


def test_models_lists_the_configured_models(oai: openai.OpenAI) -> None:
    assert {"alpha", "beta", "emb"} <= {m.id for m in oai.models.list()}


def test_unknown_model_is_a_404(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        ask(oai, "no-such-model", "hi")
    assert caught.value.code == "model_not_found"


def test_prompt_over_the_context_window_is_a_400(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(oai, "tiny", "word " * 60)
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length" in caught.value.message


def test_malformed_json_and_bad_fields_are_400s(client: httpx.Client) -> None:
    bad = client.post("/v1/chat/completions", content=b"{not json")
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    assert client.post("/v1/chat/completions", json={"model": "alpha"}).status_code == 400
    assert client.post("/v1/chat/completions", json={"model": "alpha", "n": 0, "messages": [
        {"role": "user", "content": "x"}]}).status_code == 400
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/chat/completions").status_code == 405


def test_latency_and_pacing_are_honoured(oai: openai.OpenAI) -> None:
    import time

    started = time.perf_counter()
    done = ask(oai, "paced", "take your time")
    elapsed = time.perf_counter() - started
    assert done.usage is not None
    assert elapsed >= 0.1 + done.usage.completion_tokens / 200 * 0.9


def test_streamed_n_choices_carry_their_index(oai: openai.OpenAI) -> None:
    whole = ask(oai, "beta", "two ways", n=2)
    chunks: list[ChatCompletionChunk] = list(oai.chat.completions.create(
        model="beta", messages=[{"role": "user", "content": "two ways"}], n=2, stream=True))
    texts = ["", ""]
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == [c.message.content for c in whole.choices]

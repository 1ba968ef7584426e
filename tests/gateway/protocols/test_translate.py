"""The translations on arbitrary JSON: a body is translated or refused with a `RequestError` naming a
field (a 400 in the protocol's shape), never another exception (a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.protocols import anthropic_in, responses
from router.errors import RequestError

SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=5)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["type", "text", "role", "content", "name", "id", "input",
                                                       "source", "tool_use_id", "call_id", "arguments", "output",
                                                       "format", "schema", "image_url", "url", "data"]),
                                      inner, max_size=4), max_leaves=12)
BLOCK_TYPES = st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "document", None])
ITEM_TYPES = st.sampled_from(["message", "function_call", "function_call_output", "reasoning", None])


def blocks(kinds: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(st.builds(lambda kind, extra: {**extra, "type": kind}, kinds,
                              st.dictionaries(st.sampled_from(["text", "id", "name", "input", "tool_use_id",
                                                               "content", "source", "role", "call_id",
                                                               "arguments", "output"]), JSON, max_size=4)),
                    max_size=4)


MESSAGES_BODY = st.fixed_dictionaries({"model": JSON, "max_tokens": JSON}, optional={
    "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]) | JSON},
                                               optional={"content": JSON | blocks(BLOCK_TYPES)}), max_size=3) | JSON,
    "system": JSON, "tools": JSON, "tool_choice": JSON, "stop_sequences": JSON, "temperature": JSON,
    "stream": JSON, "metadata": JSON})
RESPONSES_BODY = st.fixed_dictionaries({"model": JSON}, optional={
    "input": JSON | blocks(ITEM_TYPES), "instructions": JSON, "tools": JSON, "tool_choice": JSON, "text": JSON,
    "max_output_tokens": JSON, "previous_response_id": JSON, "stream": JSON, "include": JSON, "truncation": JSON})


@settings(max_examples=400, deadline=None)
@given(MESSAGES_BODY)
def test_messages_bodies_translate_or_name_the_field(body: dict[str, Any]) -> None:
    try:
        chat = anthropic_in.to_chat(body)
    except RequestError as exc:
        assert exc.param and exc.param.split("[")[0].split(".")[0] in body | {"messages": 1}
        return
    assert chat["messages"] is not None and chat["max_tokens"] == body["max_tokens"]


@settings(max_examples=400, deadline=None)
@given(RESPONSES_BODY)
def test_responses_bodies_translate_or_name_the_field(body: dict[str, Any]) -> None:
    try:
        responses.check(body)
        chat = responses.to_chat(body, responses.conversation(body, []))
    except RequestError as exc:
        assert exc.param and exc.param.split("[")[0].split(".")[0] in body | {"input": 1}
        return
    assert chat["messages"]


def test_anthropic_blocks_become_chat_messages() -> None:
    chat = anthropic_in.to_chat({"model": "auto", "max_tokens": 10, "system": [{"type": "text", "text": "S"}],
                                 "stop_sequences": ["END"], "tool_choice": {"type": "any"}, "messages": [
        {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                                     {"type": "text", "text": "what?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "calling"},
                                          {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"},
                                     {"type": "text", "text": "and?"}]}]})
    assert chat["stop"] == ["END"] and chat["tool_choice"] == "required"
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert chat["messages"][1]["content"][0] == {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    assert chat["messages"][2]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert chat["messages"][3] == {"role": "tool", "tool_call_id": "t1", "content": "42"}


def test_parallel_function_calls_are_one_assistant_message() -> None:
    items = [{"role": "user", "content": "go"},
             {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
             {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
             {"type": "function_call_output", "call_id": "c1", "output": "1"},
             {"type": "function_call_output", "call_id": "c2", "output": "2"}]
    messages = responses.conversation({"input": items}, [])
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]


def test_max_tokens_missing_and_max_tokens_wrong_are_told_apart() -> None:
    user = [{"role": "user", "content": "hi"}]
    for max_tokens, says in ((None, "max_tokens: is required: a positive integer"),
                             ("10", "max_tokens: must be a positive integer, not \"10\""),
                             (0, "max_tokens: must be a positive integer, not 0"),
                             (True, "max_tokens: must be a positive integer, not true")):
        body: dict[str, Any] = {"model": "auto", "messages": user}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        with pytest.raises(RequestError) as caught:
            anthropic_in.to_chat(body)
        assert caught.value.message == says and caught.value.param == "max_tokens"


def test_responses_input_missing_and_input_wrong_are_told_apart() -> None:
    for body, says in (({"model": "auto"}, "input: is required"), ({"model": "auto", "input": 5}, "input: must be"),
                       ({"model": "auto", "input": []}, "input: must be")):
        with pytest.raises(RequestError) as caught:
            responses.conversation(body, [])
        assert caught.value.message.startswith(says) and caught.value.param == "input"

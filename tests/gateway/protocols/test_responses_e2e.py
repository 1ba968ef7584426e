"""The real `openai` SDK's `responses.create` through a real gateway process to the simulator."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import GatewayProcess
from tests.gateway.protocols.conftest import KEYS, Faults

TOOLS = [{"type": "function", "name": "get_weather", "description": "The weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def client(gw: GatewayProcess, key: str = KEYS["acme"]) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0, timeout=30)


def test_plain_response(pgw: GatewayProcess) -> None:
    raw = client(pgw).responses.with_raw_response.create(model="local-small", input="Say hello",
                                                         instructions="Be terse.", max_output_tokens=64,
                                                         temperature=0.2)
    response = raw.parse()
    assert raw.headers["x-turnout-model"] == "local-small"
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text.startswith("[local-small]")
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0


def test_items_input_and_max_output_tokens(pgw: GatewayProcess) -> None:
    response = client(pgw).responses.create(model="auto", max_output_tokens=2, input=[
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "input_text", "text": "Tell me a long story"}]}])
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"


def test_stream_has_typed_events_and_usage_in_the_last(pgw: GatewayProcess) -> None:
    stream = client(pgw).responses.create(model="local-medium", input="Tell me a story", stream=True)
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.startswith("[local-medium]")
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == text and final.usage is not None and final.usage.output_tokens > 0
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_function_call_round_trip(pgw: GatewayProcess) -> None:
    first = client(pgw).responses.create(model="local-medium", input="Weather in Paris?", tools=TOOLS)  # type: ignore[arg-type]
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and isinstance(json.loads(call.arguments)["city"], str)
    second = client(pgw).responses.create(model="local-medium", tools=TOOLS, input=[  # type: ignore[arg-type]
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "18 C, sunny"}])
    assert second.output_text and not [item for item in second.output if item.type == "function_call"]


def test_streamed_function_call(pgw: GatewayProcess) -> None:
    events = list(client(pgw).responses.create(model="local-small", input="Weather?", tools=TOOLS,  # type: ignore[arg-type]
                                               tool_choice={"type": "function", "name": "get_weather"}, stream=True))
    arguments = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert "city" in json.loads(arguments)
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output[0].type == "function_call" and final.output[0].arguments == arguments


def test_previous_response_id_continues_the_conversation(pgw: GatewayProcess) -> None:
    first = client(pgw).responses.create(model="local-small", input="My name is Ada.")
    second = client(pgw).responses.with_raw_response.create(model="local-small", input="What is my name?",
                                                            previous_response_id=first.id)
    assert second.parse().output_text
    assert int(second.headers["x-turnout-attempts"]) == 1
    streamed = list(client(pgw).responses.create(model="local-small", input="More", stream=True,
                                                 previous_response_id=second.parse().id))
    third = streamed[-1].response  # type: ignore[union-attr]
    assert client(pgw).responses.create(model="local-small", input="And?", previous_response_id=third.id).output_text
    with pytest.raises(openai.NotFoundError):  # another tenant's id is not found
        client(pgw, KEYS["beta"]).responses.create(model="local-small", input="Hi", previous_response_id=first.id)
    with pytest.raises(openai.NotFoundError):
        client(pgw).responses.create(model="local-small", input="Hi", previous_response_id="resp_nope")


def test_conversation_reaches_the_model(pgw: GatewayProcess) -> None:
    """The stored turns are sent on: the prompt grows with each turn."""
    first = client(pgw).responses.create(model="local-small", input="word " * 200)
    second = client(pgw).responses.create(model="local-small", input="hi", previous_response_id=first.id)
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens


def test_json_schema_format(pgw: GatewayProcess) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    response = client(pgw).responses.create(model="local-small", input="Answer in JSON", text={
        "format": {"type": "json_schema", "name": "reply", "schema": schema, "strict": True}})
    assert isinstance(json.loads(response.output_text)["answer"], str)


def test_stream_falls_back_before_the_first_byte(pgw: GatewayProcess, faults: Faults) -> None:
    faults("local-small", {"kind": "cut_stream", "after_chunks": 0})
    with client(pgw).responses.with_streaming_response.create(model="chain", input="Hello", stream=True) as response:
        assert response.headers["x-turnout-model"] == "local-medium"
        events = list(response.parse())
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text.startswith("[local-medium]")  # type: ignore[union-attr]


def test_stream_cut_after_the_first_byte_ends_with_an_error_event(pgw: GatewayProcess, faults: Faults) -> None:
    faults("local-small", {"kind": "cut_stream", "after_chunks": 3})
    events = list(client(pgw).responses.create(model="local-small", input="Tell me a story", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "error"
    assert "response.completed" not in kinds and "response.output_text.delta" in kinds
    assert events[-1].message  # type: ignore[union-attr]


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "local-small", "input": "hi", "reasoning": {"effort": "high"}}, "reasoning"),
    ({"model": "local-small", "input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"model": "local-small", "input": [{"type": "file_search_call"}]}, "input[0].type"),
    ({"model": "local-small"}, "input"),
    ({"model": "local-small", "input": "hi", "temperature": 9}, "temperature"),
    ({"input": "hi"}, "model"),
])
def test_bad_input_gets_an_openai_shaped_400_naming_it(pgw: GatewayProcess, body: dict[str, object],
                                                        param: str) -> None:
    response = httpx.post(pgw.base_url + "/v1/responses", json=body, timeout=30,
                          headers={"authorization": f"Bearer {KEYS['acme']}"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    with pytest.raises(openai.BadRequestError):
        client(pgw).responses.create(**body)  # type: ignore[call-overload]


def test_the_sdks_stream_helper_assembles_the_response(pgw: GatewayProcess) -> None:
    with client(pgw).responses.stream(model="local-small", input="Weather?", tools=TOOLS) as stream:  # type: ignore[arg-type]
        for _ in stream:
            pass
        final = stream.get_final_response()
    call = final.output[0]
    assert call.type == "function_call" and "city" in json.loads(call.arguments)
    with client(pgw).responses.stream(model="local-small", input="Hello") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        assert stream.get_final_response().output_text == text

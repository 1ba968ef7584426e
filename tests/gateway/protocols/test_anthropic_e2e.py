"""The real `anthropic` SDK through a real gateway process to the simulator: `/v1/messages`."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from tests.conftest import GatewayProcess
from tests.gateway.protocols.conftest import KEYS, Faults

USER = [{"role": "user", "content": "Say hello to the turnout"}]
WEATHER = {"name": "get_weather", "description": "The weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def client(gw: GatewayProcess, key: str = KEYS["acme"]) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.base_url, api_key=key, max_retries=0, timeout=30)


def test_plain_message_is_routed_and_translated(pgw: GatewayProcess) -> None:
    raw = client(pgw).messages.with_raw_response.create(model="local-small", max_tokens=64, messages=USER,
                                                          system="You are terse.")  # type: ignore[arg-type]
    message = raw.parse()
    assert raw.headers["x-turnout-model"] == "local-small"
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text.startswith("[local-small]")
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_an_alias_serves_an_anthropic_client(pgw: GatewayProcess) -> None:
    raw = client(pgw).messages.with_raw_response.create(model="auto", max_tokens=64, messages=USER)  # type: ignore[arg-type]
    assert raw.headers["x-turnout-model"] in {"local-small", "local-medium", "claude-sim"}
    assert raw.parse().content[0].text  # type: ignore[union-attr]


def test_max_tokens_ends_with_max_tokens(pgw: GatewayProcess) -> None:
    message = client(pgw).messages.create(model="local-small", max_tokens=2, messages=USER)  # type: ignore[arg-type]
    assert message.stop_reason == "max_tokens"


def test_stream_follows_anthropics_event_sequence(pgw: GatewayProcess) -> None:
    with client(pgw).messages.stream(model="local-medium", max_tokens=256, messages=USER) as stream:  # type: ignore[arg-type]
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds[1] == "content_block_start" and "content_block_delta" in kinds
    assert kinds.index("content_block_stop") < kinds.index("message_delta")
    assert final.content[0].text.startswith("[local-medium]")  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_tool_use_round_trip(pgw: GatewayProcess) -> None:
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client(pgw).messages.create(model="local-medium", max_tokens=256, messages=messages,  # type: ignore[arg-type]
                                        tools=[WEATHER])  # type: ignore[list-item]
    assert first.stop_reason == "tool_use"
    use = next(block for block in first.content if block.type == "tool_use")
    assert use.name == "get_weather" and isinstance(use.input["city"], str)  # type: ignore[index]
    result = {"type": "tool_result", "tool_use_id": use.id, "content": "18 C, sunny"}
    messages += [{"role": "assistant", "content": [block.model_dump() for block in first.content]},
                 {"role": "user", "content": [result]}]
    second = client(pgw).messages.create(model="local-medium", max_tokens=256, messages=messages,  # type: ignore[arg-type]
                                         tools=[WEATHER])  # type: ignore[list-item]
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text


def test_streamed_tool_use(pgw: GatewayProcess) -> None:
    with client(pgw).messages.stream(model="local-small", max_tokens=256, tools=[WEATHER],  # type: ignore[list-item]
                                     tool_choice={"type": "tool", "name": "get_weather"},
                                     messages=[{"role": "user", "content": "Weather?"}]) as stream:
        final = stream.get_final_message()
    use = final.content[-1]
    assert use.type == "tool_use" and use.name == "get_weather" and "city" in use.input  # type: ignore[operator]
    assert final.stop_reason == "tool_use"


def test_stream_falls_back_before_the_first_byte(pgw: GatewayProcess, faults: Faults) -> None:
    faults("local-small", {"kind": "cut_stream", "after_chunks": 0})
    with client(pgw).messages.stream(model="chain", max_tokens=256, messages=USER) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
        assert stream.response.headers["x-turnout-model"] == "local-medium"
    assert final.content[0].text.startswith("[local-medium]")  # type: ignore[union-attr]


def test_stream_cut_after_the_first_byte_ends_with_an_error_event(pgw: GatewayProcess, faults: Faults) -> None:
    faults("local-small", {"kind": "cut_stream", "after_chunks": 3})
    with httpx.stream("POST", pgw.base_url + "/v1/messages", timeout=30, headers={"x-api-key": KEYS["acme"]},
                      json={"model": "local-small", "max_tokens": 256, "messages": USER, "stream": True}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("event:")]
    assert lines[0] == "event: message_start" and lines[-1] == "event: error"
    assert "event: message_stop" not in lines
    with pytest.raises(anthropic.APIStatusError), client(pgw).messages.stream(
            model="local-small", max_tokens=256, messages=USER) as stream:  # type: ignore[arg-type]
        for _ in stream:
            pass


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "local-small", "messages": USER}, "max_tokens"),
    ({"model": "local-small", "max_tokens": 5, "messages": []}, "messages"),
    ({"model": "local-small", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "audio"}]}]},
     "messages[0].content[0].type"),
    ({"model": "local-small", "max_tokens": 5, "messages": USER, "frobnicate": 1}, "frobnicate"),
    ({"model": "local-small", "max_tokens": 5, "messages": USER, "stop_sequences": "x"}, "stop_sequences"),
    ({"model": "local-small", "max_tokens": 5, "messages": USER, "tool_choice": {"type": ["auto"]}},
     "tool_choice"),  # was a 500: a list hashed into the choices
])
def test_bad_input_gets_anthropics_error_shape(pgw: GatewayProcess, body: dict[str, object], param: str) -> None:
    response = httpx.post(pgw.base_url + "/v1/messages", json=body, headers={"x-api-key": KEYS["acme"]}, timeout=30)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert param in error["error"]["message"]
    if "max_tokens" in body:  # the SDK checks that one itself
        extra = {k: v for k, v in body.items() if k == "frobnicate"}
        known = {k: v for k, v in body.items() if k != "frobnicate"}
        with pytest.raises(anthropic.BadRequestError):
            client(pgw).messages.create(**known, extra_body=extra)  # type: ignore[call-overload]


def test_errors_and_auth_in_anthropics_shape(pgw: GatewayProcess) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        client(pgw, key="sk-wrong").messages.create(model="local-small", max_tokens=5, messages=USER)  # type: ignore[arg-type]
    with pytest.raises(anthropic.NotFoundError) as info:
        client(pgw).messages.create(model="claude-nope", max_tokens=5, messages=USER)  # type: ignore[arg-type]
    assert info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    bearer = httpx.post(pgw.base_url + "/v1/messages", headers={"authorization": f"Bearer {KEYS['beta']}"},
                        json={"model": "local-small", "max_tokens": 5, "messages": USER}, timeout=30)
    assert bearer.status_code == 200
    garbage = httpx.post(pgw.base_url + "/v1/messages", content=b"{not json", timeout=30,
                         headers={"x-api-key": KEYS["acme"], "content-type": "application/json"})
    assert garbage.status_code == 400 and garbage.json()["type"] == "error"


def test_count_tokens(pgw: GatewayProcess) -> None:
    short = client(pgw).messages.count_tokens(model="auto", messages=USER)  # type: ignore[arg-type]
    longer = client(pgw).messages.count_tokens(model="auto", messages=[{"role": "user", "content": "word " * 400}],
                                               tools=[WEATHER])  # type: ignore[list-item]
    assert 0 < short.input_tokens < longer.input_tokens


def test_image_block_reaches_the_model(pgw: GatewayProcess) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    message = client(pgw).messages.create(model="local-medium", max_tokens=64, messages=[  # type: ignore[arg-type]
        {"role": "user", "content": [image, {"type": "text", "text": "What is this?"}]}])
    assert message.content[0].text  # type: ignore[union-attr]
    assert json.loads(message.model_dump_json())["usage"]["input_tokens"] > 0

from __future__ import annotations

from typing import Any

import orjson

from gateway.cache import replay_sse
from gateway.cache.assemble import response_from_chunks
from gateway.cache.eligibility import storable_response

from .conftest import answer


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


async def test_replayed_stream_assembles_back_to_the_answer() -> None:
    body = answer("Redis keeps data in memory and can persist it to disk.")
    events = [e async for e in replay_sse(body, include_usage=True)]
    chunks = [orjson.loads(e[6:]) for e in events[:-1]]
    rebuilt = response_from_chunks(chunks)
    assert rebuilt is not None
    assert rebuilt["choices"] == body["choices"] and rebuilt["usage"] == body["usage"]
    assert storable_response(rebuilt)


def test_a_stream_cut_short_is_never_storable() -> None:
    assert response_from_chunks([chunk({"role": "assistant"}), chunk({"content": "Half an ans"})]) is None
    assert response_from_chunks([]) is None


def test_streamed_tool_calls_and_length_stops_are_not_storable() -> None:
    tools = response_from_chunks([chunk({"tool_calls": [{"index": 0, "id": "t"}]}), chunk({}, "tool_calls")])
    length = response_from_chunks([chunk({"content": "abc"}), chunk({}, "length")])
    assert tools is None
    assert length is not None and not storable_response(length)
    two = chunk({"content": "x"})
    two["choices"][0]["index"] = 1
    assert response_from_chunks([chunk({"content": "x"}), two, chunk({}, "stop")]) is None

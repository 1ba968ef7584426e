from __future__ import annotations

import orjson
from openai.types.chat import ChatCompletionChunk

from gateway.cache import replay_sse

from .conftest import answer


async def events(include_usage: bool) -> list[bytes]:
    body = answer("Redis is an in-memory data store used as a cache.")
    return [e async for e in replay_sse(body, include_usage=include_usage)]


async def test_replay_is_a_valid_openai_stream_with_usage() -> None:
    raw = await events(include_usage=True)
    assert all(e.startswith(b"data: ") and e.endswith(b"\n\n") for e in raw)
    assert raw[-1] == b"data: [DONE]\n\n"
    chunks = [ChatCompletionChunk.model_validate(orjson.loads(e[6:])) for e in raw[:-1]]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Redis is an in-memory data store used as a cache."
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12
    assert {c.id for c in chunks} == {"chatcmpl-1"}


async def test_replay_without_usage_has_no_usage_chunk() -> None:
    raw = await events(include_usage=False)
    payloads = [orjson.loads(e[6:]) for e in raw[:-1]]
    assert all(p["choices"] for p in payloads)
    assert all("usage" not in p for p in payloads)

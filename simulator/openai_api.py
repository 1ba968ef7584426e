"""OpenAI-compatible endpoints: `/v1/chat/completions` (whole and streamed), `/v1/embeddings`,
`/v1/models`."""

from __future__ import annotations

import time
from typing import Any

import orjson

from simulator.chat import Completion, compose, prompt_chars
from simulator.errors import bad_request
from simulator.faults import StreamCutError, StreamWriter, answer_json
from simulator.openai_chat import completion_body, first_delta, parse_chat, piece_delta, usage
from simulator.service import Admitted, Exchange, admit, int_field, model_name, pause, token_delay
from simulator.text import as_base64, count_tokens, embedding

DONE = b"data: [DONE]\n\n"


async def chat_completions(exchange: Exchange) -> None:
    body = exchange.json()
    request = parse_chat(body)
    stream = body.get("stream") is True
    admitted = await admit(exchange, request.model, endpoint="chat", stream=stream,
                           prompt_chars=prompt_chars(request))
    if admitted is None:
        return
    completion = compose(request, admitted.model.model, exchange.runtime.config.seed)
    if not stream:
        await pause(completion.completion_tokens * token_delay(admitted))
        await answer_json(admitted.fault, exchange.responder, completion_body(completion, admitted.name,
                                                                             int(time.time())))
        return
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    writer = StreamWriter(exchange.responder, admitted.fault, coalesce=token_delay(admitted) == 0)
    await writer.start()
    try:
        await _stream(writer, completion, admitted, include_usage=include_usage)
    except StreamCutError:
        return


async def _stream(writer: StreamWriter, completion: Completion, admitted: Admitted, *,
                  include_usage: bool) -> None:
    base: dict[str, Any] = {"id": "chatcmpl-" + completion.id_hex, "object": "chat.completion.chunk",
                            "created": int(time.time()), "model": admitted.name,
                            "system_fingerprint": "fp_turnout_sim"}
    if include_usage:
        base["usage"] = None

    def event(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"

    delay = token_delay(admitted)
    for choice in completion.choices:
        await writer.send(event(choice.index, first_delta(choice)))
        for piece in choice.pieces():
            await pause(delay)
            await writer.send(event(choice.index, piece_delta(choice, piece)))
        await writer.send(event(choice.index, {}, choice.finish))
    if include_usage:
        final = {**base, "choices": [], "usage": usage(completion)}
        await writer.send(b"data: " + orjson.dumps(final) + b"\n\n")
    await writer.send(DONE)
    await writer.close()


async def embeddings(exchange: Exchange) -> None:
    body = exchange.json()
    name = model_name(body)
    texts = _inputs(body.get("input"))
    dims = int_field(body, "dimensions", minimum=1)
    admitted = await admit(exchange, name, endpoint="embeddings", stream=False,
                           prompt_chars=max(len(t) for t in texts))
    if admitted is None:
        return
    size = dims or admitted.model.model.embedding_dims
    as_b64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vector = embedding(text, size)
        data.append({"object": "embedding", "index": i, "embedding": as_base64(vector) if as_b64 else vector})
    tokens = sum(max(1, count_tokens(t)) for t in texts)
    await exchange.responder.json(200, {"object": "list", "data": data, "model": admitted.name,
                                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _inputs(raw: object) -> list[str]:
    """`input` as texts: a string, a list of strings, or token arrays (embedded as their digits)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(x, str) for x in raw):
            return [str(x) for x in raw]
        if all(isinstance(x, int) for x in raw):
            return [" ".join(map(str, raw))]
        if all(isinstance(x, list) for x in raw):
            return [" ".join(map(str, x)) for x in raw]
    raise bad_request("'input' must be a string, a list of strings or token arrays.", param="input")


async def list_models(exchange: Exchange) -> None:
    data = [{"id": m.name, "object": "model", "created": 0, "owned_by": "turnout-simulator"}
            for m in exchange.runtime.configured()]
    await exchange.responder.json(200, {"object": "list", "data": data})

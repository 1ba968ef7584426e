"""The direct adapter on the wire, against a scripted real HTTP server: what it sends, how it reads
odd but valid SSE, and how each HTTP status and OpenAI error body maps to our error tree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from registry import ModelSpec
from router.errors import (
    ContentPolicyViolation,
    ContextWindowExceeded,
    RateLimited,
    RequestError,
    TurnoutError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from router.upstream.base import Chunk, UpstreamRequest
from router.upstream.openai_http import OpenAIHTTPUpstream
from tests.router.upstream.scripted_server import ScriptedServer, http_response, sse_response

MSG = [{"role": "user", "content": "hi"}]
ANSWER = {"id": "c1", "object": "chat.completion", "model": "org/model",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def chunk_event(content: str, *, sep: bytes = b"\n") -> bytes:
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content},
                                                              "finish_reason": None}]}
    return b"data: " + orjson.dumps(chunk) + sep + sep


async def scripted(*responses: bytes) -> ScriptedServer:
    return await ScriptedServer(list(responses)).start()


@pytest.fixture
async def server_ok() -> AsyncIterator[ScriptedServer]:
    server = await scripted(http_response(200, ANSWER))
    yield server
    await server.stop()


def spec_for(server: ScriptedServer, **extra: Any) -> ModelSpec:
    return ModelSpec.model_validate({"id": "turnout-vllm", "litellm_model": "hosted_vllm/org/model",
                                     "api_base": server.base_url + "/", **extra})


async def test_sends_only_pass_through_fields_with_the_model_rewritten(direct: OpenAIHTTPUpstream,
                                                                       server_ok: ScriptedServer) -> None:
    body = {"model": "auto", "messages": MSG, "temperature": 0.2, "tools": [], "api_base": "http://evil",
            "custom_llm_provider": "x", "mock_response": "y", "stream": True}
    response = await direct.send(UpstreamRequest(spec=spec_for(server_ok), body=body, api_key="sk-abc"))
    assert response.body == ANSWER
    seen = server_ok.seen[0]
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.json() == {"model": "org/model", "messages": MSG, "temperature": 0.2, "tools": []}
    assert seen.headers["authorization"] == "Bearer sk-abc"
    assert seen.headers["content-type"] == "application/json"


async def test_no_key_sends_no_authorization(direct: OpenAIHTTPUpstream, server_ok: ScriptedServer) -> None:
    await direct.send(UpstreamRequest(spec=spec_for(server_ok), body={"messages": MSG}))
    assert "authorization" not in server_ok.seen[0].headers


async def test_embeddings_go_to_their_path_with_their_fields(direct: OpenAIHTTPUpstream,
                                                             server_ok: ScriptedServer) -> None:
    body = {"model": "e", "input": "text", "dimensions": 4, "messages": MSG}
    await direct.send(UpstreamRequest(spec=spec_for(server_ok), body=body, kind="embeddings"))
    assert server_ok.seen[0].path == "/v1/embeddings"
    assert server_ok.seen[0].json() == {"model": "org/model", "input": "text", "dimensions": 4}


async def test_connections_are_kept_alive_and_reused(direct: OpenAIHTTPUpstream, server_ok: ScriptedServer) -> None:
    for _ in range(5):
        await direct.send(UpstreamRequest(spec=spec_for(server_ok), body={"messages": MSG}))
    assert len(server_ok.seen) == 5
    assert server_ok.connections == 1


async def test_stream_sends_stream_true_and_reads_odd_but_valid_sse(direct: OpenAIHTTPUpstream) -> None:
    events = (b": keep-alive comment\n\n" + chunk_event("a") + b"event: message\nid: 7\n" + chunk_event("b")
              + chunk_event("c", sep=b"\r\n") + b'data: {"object": "chat.completion.chunk",\ndata: "choices": []}\n\n'
              + b"data:" + orjson.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
              + b"\n\ndata: [DONE]\n\n")
    server = await scripted(sse_response(events))
    try:
        spec = spec_for(server)
        response = await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=True))
        assert response.stream is not None
        chunks = [c async for c in response.stream]
        assert [c["choices"][0]["delta"].get("content") for c in chunks[:3]] == ["a", "b", "c"]
        assert chunks[3] == {"object": "chat.completion.chunk", "choices": []}
        assert chunks[4]["choices"][0]["finish_reason"] == "stop"
        assert server.seen[0].json()["stream"] is True
        assert server.seen[0].headers["accept"] == "text/event-stream"
        again = await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=True))
        assert again.stream is not None
        assert len([c async for c in again.stream]) == len(chunks)
        assert server.connections == 1  # read to the end after [DONE], so the connection was pooled
    finally:
        await server.stop()


BROKEN_STREAMS: list[tuple[str, bytes, type[TurnoutError], str]] = [
    ("ends without [DONE]", chunk_event("a"), UpstreamError, "upstream_stream_cut"),
    ("not an object", chunk_event("a") + b"data: [1, 2]\n\n", UpstreamError, "upstream_invalid_response"),
    ("error event", chunk_event("a") + b'data: {"error": {"message": "boom", "type": "InternalServerError", '
                                       b'"code": 500}}\n\n', UpstreamError, "bad_gateway"),
    ("context error event", chunk_event("a") + b'data: {"error": {"message": "This model\'s maximum context '
                                               b'length is 10 tokens", "code": 400}}\n\n',
     ContextWindowExceeded, "context_length_exceeded"),
]


@pytest.mark.parametrize(("events", "error", "code"), [b[1:] for b in BROKEN_STREAMS],
                         ids=[b[0] for b in BROKEN_STREAMS])
async def test_broken_streams(direct: OpenAIHTTPUpstream, events: bytes, error: type[TurnoutError],
                              code: str) -> None:
    server = await scripted(sse_response(events))
    try:
        response = await direct.send(UpstreamRequest(spec=spec_for(server), body={"messages": MSG}, stream=True))
        assert response.stream is not None
        received: list[Chunk] = []
        with pytest.raises(TurnoutError) as caught:
            async for chunk in response.stream:
                received.append(chunk)
        assert len(received) == 1
        assert type(caught.value) is error and caught.value.code == code
        assert "turnout-vllm" in caught.value.message and "boom" not in caught.value.message
    finally:
        await server.stop()


def error_body(message: str, code: str | int | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


STATUSES: list[tuple[str, bytes, type[TurnoutError], str]] = [
    ("400", http_response(400, error_body("bad 'temperature'")), RequestError, "invalid_request"),
    ("400 context code", http_response(400, error_body("too long", "context_length_exceeded")),
     ContextWindowExceeded, "context_length_exceeded"),
    ("400 vllm context", http_response(400, error_body(
        "This model's maximum context length is 2048 tokens. However, you requested 4000 tokens.", 400,
        "BadRequestError")), ContextWindowExceeded, "context_length_exceeded"),
    ("400 content filter", http_response(400, error_body("filtered", "content_filter")),
     ContentPolicyViolation, "content_policy_violation"),
    ("400 content policy message", http_response(400, error_body(
        "Your request was rejected as a result of our safety system.")), ContentPolicyViolation,
     "content_policy_violation"),
    ("400 not json", http_response(400, b"<html>bad</html>", content_type="text/html"), RequestError,
     "invalid_request"),
    ("401", http_response(401, error_body("Incorrect API key provided: sk-abc")), UpstreamError,
     "upstream_auth_failed"),
    ("403", http_response(403, error_body("nope")), UpstreamError, "upstream_denied"),
    ("404", http_response(404, error_body("no model", "model_not_found")), UpstreamError, "upstream_not_found"),
    ("408", http_response(408, b""), UpstreamTimeout, "upstream_timeout"),
    ("409", http_response(409, b""), RequestError, "invalid_request"),
    ("422", http_response(422, {"detail": [{"msg": "field required"}]}), RequestError, "invalid_request"),
    ("429", http_response(429, error_body("slow down"), headers=(("Retry-After", "7"),)), RateLimited,
     "rate_limit_exceeded"),
    ("500", http_response(500, error_body("oops")), UpstreamError, "bad_gateway"),
    ("501", http_response(501, b""), UpstreamError, "bad_gateway"),
    ("502", http_response(502, b"bad gateway", content_type="text/plain"), UpstreamError, "bad_gateway"),
    ("503", http_response(503, error_body("overloaded")), UpstreamUnavailable, "service_unavailable"),
    ("504", http_response(504, b""), UpstreamTimeout, "upstream_timeout"),
    ("200 not json", http_response(200, b"{nope"), UpstreamError, "upstream_invalid_response"),
    ("200 json list", http_response(200, b"[]"), UpstreamError, "upstream_invalid_response"),
]


STATUS_CASES = [pytest.param(*case[1:], stream, id=f"{case[0]}-{'stream' if stream else 'plain'}")
                for case in STATUSES for stream in (False, True)
                if not (stream and case[0].startswith("200"))]  # a 200 stream is SSE: see test_broken_streams


@pytest.mark.parametrize(("response", "error", "code", "stream"), STATUS_CASES)
async def test_statuses_map_to_our_errors(direct: OpenAIHTTPUpstream, response: bytes, error: type[TurnoutError],
                                          code: str, stream: bool) -> None:
    server = await scripted(response)
    try:
        spec = spec_for(server)
        with pytest.raises(TurnoutError) as caught:
            await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}, stream=stream, api_key="sk-abc"))
        assert type(caught.value) is error and caught.value.code == code
        assert spec.id in caught.value.message
        assert "sk-abc" not in caught.value.message and "127.0.0.1" not in caught.value.message
    finally:
        await server.stop()


@pytest.mark.parametrize(("headers", "expected"), [
    ((("Retry-After", "7"),), 7.0),
    ((("retry-after-ms", "1500"), ("Retry-After", "9")), 1.5),
    ((("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),), None),
    ((), None),
])
async def test_retry_after(direct: OpenAIHTTPUpstream, headers: tuple[tuple[str, str], ...],
                           expected: float | None) -> None:
    server = await scripted(http_response(429, error_body("slow down"), headers=headers))
    try:
        with pytest.raises(RateLimited) as caught:
            await direct.send(UpstreamRequest(spec=spec_for(server), body={"messages": MSG}))
        assert caught.value.retry_after == expected
    finally:
        await server.stop()


async def test_hosted_vllm_without_api_base_is_not_configured(direct: OpenAIHTTPUpstream) -> None:
    spec = ModelSpec(id="vllm-no-base", litellm_model="hosted_vllm/org/model")
    with pytest.raises(UpstreamError) as caught:
        await direct.send(UpstreamRequest(spec=spec, body={"messages": MSG}))
    assert caught.value.code == "upstream_not_configured"

"""The direct adapter's calls over `router.upstream.http1`, on the wire against a scripted real server:
body framings, connections closed at every point, stale pooled connections, header hygiene; streams
read as they arrive, holding their connection (and its place under the per-host limit) until done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvloop

from registry import ModelSpec
from router.errors import TurnoutError, UpstreamError, UpstreamUnavailable
from router.upstream.base import UpstreamRequest
from router.upstream.openai_http import OpenAIHTTPUpstream
from router.upstream.sse import SSEStream
from tests.router.upstream.scripted_server import ScriptedServer, http_response
from tests.router.upstream.test_openai_http_wire import ANSWER, MSG, chunk_event

OK = http_response(200, ANSWER)
JSON = OK.partition(b"\r\n\r\n")[2]


async def serve(*responses: bytes, close_after: bool = False) -> ScriptedServer:
    return await ScriptedServer(list(responses), close_after=close_after).start()


def spec_for(server: ScriptedServer) -> ModelSpec:
    return ModelSpec.model_validate({"id": "turnout-local", "litellm_model": "openai/org/model",
                                     "api_base": server.base_url, "timeouts": {"total": 5, "connect": 2}})


async def call(upstream: OpenAIHTTPUpstream, server: ScriptedServer, **extra: object) -> object:
    response = await upstream.send(UpstreamRequest(spec=spec_for(server), body={"messages": MSG}, **extra))  # type: ignore[arg-type]
    return response.body


async def open_stream(upstream: OpenAIHTTPUpstream, server: ScriptedServer) -> SSEStream:
    response = await upstream.send(UpstreamRequest(spec=spec_for(server), body={"messages": MSG}, stream=True))
    assert isinstance(response.stream, SSEStream)
    return response.stream


async def contents(stream: SSEStream) -> str:
    return "".join([chunk["choices"][0]["delta"]["content"] async for chunk in stream])


def chunked(head: bytes, parts: list[bytes]) -> bytes:
    return head + b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
EVENTS = [chunk_event(c) for c in ("a", "b", "c")] + [b"data: [DONE]\n\n"]


@pytest.fixture
async def upstream() -> AsyncIterator[OpenAIHTTPUpstream]:
    adapter = OpenAIHTTPUpstream()
    yield adapter
    await adapter.aclose()


@pytest.mark.parametrize("response", [
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in (JSON[:10], JSON[10:]))
                 + b"0\r\n\r\n", id="chunked"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + JSON, id="until-close"),
    pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(JSON), JSON), id="http-1.0"),
])
async def test_every_body_framing_is_read(upstream: OpenAIHTTPUpstream, response: bytes) -> None:
    server = await serve(response, close_after=b"Content-Length" not in response and b"chunked" not in response)
    try:
        assert await call(upstream, server) == ANSWER
        assert await call(upstream, server) == ANSWER
    finally:
        await server.stop()


async def test_the_request_on_the_wire(upstream: OpenAIHTTPUpstream) -> None:
    server = await serve(OK)
    try:
        await call(upstream, server, api_key="sk-local", headers={"traceparent": "00-abc-def-01"})
        seen = server.seen[0]
        port = server.base_url.split(":")[2].split("/")[0]
        assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
        assert seen.headers["host"] == f"127.0.0.1:{port}"
        assert seen.headers["content-length"] == str(len(seen.body))
        assert seen.headers["authorization"] == "Bearer sk-local"
        assert seen.headers["traceparent"] == "00-abc-def-01"
        assert seen.json() == {"model": "org/model", "messages": MSG}
    finally:
        await server.stop()


@pytest.mark.parametrize(("response", "code"), [
    pytest.param(OK[:-20], "upstream_invalid_response", id="reset-mid-body"),
    pytest.param(OK[:30], "upstream_invalid_response", id="reset-mid-headers"),
    pytest.param(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "upstream_invalid_response", id="not-http"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "upstream_invalid_response", id="200-empty"),
])
async def test_broken_answers_are_our_errors(upstream: OpenAIHTTPUpstream, response: bytes, code: str) -> None:
    server = await serve(response, close_after=True)
    try:
        with pytest.raises(UpstreamError) as caught:
            await call(upstream, server)
        assert caught.value.code == code and "turnout-local" in caught.value.message
    finally:
        await server.stop()


async def test_a_connection_closed_before_any_answer_is_unavailable(upstream: OpenAIHTTPUpstream) -> None:
    server = await serve(b"")
    try:
        with pytest.raises(UpstreamUnavailable):
            await call(upstream, server)
        assert server.connections == 1  # a new connection is not tried twice
    finally:
        await server.stop()


async def test_a_connection_the_server_closed_while_idle_is_not_reused(upstream: OpenAIHTTPUpstream) -> None:
    server = await serve(OK, close_after=True)
    try:
        assert await call(upstream, server) == ANSWER
        await asyncio.sleep(0.05)  # the server's close has arrived
        assert await call(upstream, server) == ANSWER
        assert server.connections == 2
    finally:
        await server.stop()


async def test_a_reused_connection_closed_as_the_request_goes_out_is_replaced_once(
        upstream: OpenAIHTTPUpstream) -> None:
    server = await serve(OK, b"", OK)  # the second request, on the kept-alive connection, is dropped unanswered
    try:
        assert await call(upstream, server) == ANSWER
        assert await call(upstream, server) == ANSWER
        assert (len(server.seen), server.connections) == (3, 2)
    finally:
        await server.stop()


async def test_idle_connections_expire_after_keepalive() -> None:
    upstream = OpenAIHTTPUpstream(keepalive_s=0.1)
    server = await serve(OK)
    try:
        await call(upstream, server)
        await call(upstream, server)
        assert server.connections == 1
        await asyncio.sleep(0.2)
        await call(upstream, server)
        assert server.connections == 2
    finally:
        await upstream.aclose()
        await server.stop()


async def test_concurrent_calls_each_get_their_own_connection_and_answer(upstream: OpenAIHTTPUpstream) -> None:
    server = await serve(OK)
    try:
        answers = await asyncio.gather(*(call(upstream, server) for _ in range(20)))
        assert answers == [ANSWER] * 20
        assert 1 < server.connections <= 20
        await asyncio.gather(*(call(upstream, server) for _ in range(20)))
        assert server.connections <= 20  # the second wave reused the first wave's connections
    finally:
        await server.stop()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("key", ["sk-local\r\nX-Injected: 1", "sk-local\n", "sk-local\ud800"])
async def test_a_header_that_cannot_be_sent_is_refused_before_sending(upstream: OpenAIHTTPUpstream, key: str,
                                                                       stream: bool) -> None:
    server = await serve(OK)
    try:
        with pytest.raises(TurnoutError) as caught:
            await call(upstream, server, api_key=key, stream=stream)
        assert caught.value.code == "upstream_not_configured" and "sk-local" not in caught.value.message
        assert server.seen == []
    finally:
        await server.stop()


async def test_a_timeout_closes_the_connection_and_the_next_call_gets_a_fresh_one() -> None:
    upstream = OpenAIHTTPUpstream()
    server = await serve(OK)
    try:
        await call(upstream, server)
        hung = await serve(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")  # never finishes its body
        try:
            with pytest.raises(TurnoutError) as caught:
                await call(upstream, hung, timeout=0.2)
            assert caught.value.code == "upstream_timeout"
        finally:
            await hung.stop()
        assert await call(upstream, server) == ANSWER
    finally:
        await upstream.aclose()
        await server.stop()


async def test_plain_calls_honour_the_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxied `http://` upstream is reached through the proxy (aiohttp's path), never directly."""
    proxy = await serve(OK)  # answers whatever it is asked: it plays the proxy
    try:
        for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v1"))
        upstream = OpenAIHTTPUpstream()  # reads the environment once, here
        spec = ModelSpec(id="far", litellm_model="openai/x", api_base="http://upstream.invalid:8000/v1")
        try:
            answer = await upstream.send(UpstreamRequest(spec=spec, body={"messages": MSG}))
        finally:
            await upstream.aclose()
        assert answer.body == ANSWER
        assert proxy.seen[0].path == "http://upstream.invalid:8000/v1/chat/completions"
    finally:
        await proxy.stop()


def test_the_gateway_s_loop_uvloop_gets_the_same_answers() -> None:
    """The tests above run on asyncio's loop; the gateway serves on uvloop, whose transports differ."""
    async def scenario() -> tuple[object, object, str, int]:
        upstream = OpenAIHTTPUpstream()
        server = await serve(OK, b"", OK)
        broken = await serve(OK[:-20], close_after=True)
        try:
            first, second = await call(upstream, server), await call(upstream, server)
            with pytest.raises(UpstreamError) as caught:
                await call(upstream, broken)
            return first, second, caught.value.code, server.connections
        finally:
            await upstream.aclose()
            await server.stop()
            await broken.stop()

    assert uvloop.run(scenario()) == (ANSWER, ANSWER, "upstream_invalid_response", 2)


@pytest.mark.parametrize(("response", "close_after"), [
    pytest.param(chunked(SSE_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", EVENTS), False, id="chunked"),
    pytest.param(chunked(SSE_HEAD + b"Transfer-Encoding: chunked\r\n\r\n",  # events cut anywhere
                         [b"".join(EVENTS)[i:i + 7] for i in range(0, len(b"".join(EVENTS)), 7)]), False,
                 id="chunked-in-pieces"),
    pytest.param(SSE_HEAD + b"\r\n" + b"".join(EVENTS), True, id="until-close"),
])
async def test_streams_are_read_as_they_arrive_and_their_connection_reused(
        upstream: OpenAIHTTPUpstream, response: bytes, close_after: bool) -> None:
    server = await serve(response, close_after=close_after)
    try:
        assert await contents(await open_stream(upstream, server)) == "abc"
        assert await contents(await open_stream(upstream, server)) == "abc"
        assert server.connections == (2 if close_after else 1)
        assert server.seen[0].headers["accept"] == "text/event-stream" and server.seen[0].json()["stream"] is True
    finally:
        await server.stop()


def long_stream(words: int) -> tuple[str, bytes]:
    """(its text, a chunked SSE answer carrying it in events of 100 words)."""
    text = [f"w{i:06d} " for i in range(words)]
    events = [chunk_event("".join(text[i:i + 100])) for i in range(0, words, 100)] + [b"data: [DONE]\n\n"]
    return "".join(text), chunked(SSE_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", events)


async def read_slowly(stream: SSEStream) -> str:
    """A slow client: it pauses every 100 chunks, so the upstream's bytes pile up meanwhile."""
    parts: list[str] = []
    async for chunk in stream:
        parts.append(chunk["choices"][0]["delta"]["content"])
        if len(parts) % 100 == 0:
            await asyncio.sleep(0.01)
    return "".join(parts)


async def test_a_stream_far_larger_than_the_read_buffer_arrives_whole(upstream: OpenAIHTTPUpstream) -> None:
    """Over the high-water mark the connection stops reading until the reader catches up."""
    text, response = long_stream(300_000)  # ~2.7 MB of events, 10x the high-water mark
    server = await serve(response)
    try:
        assert await read_slowly(await open_stream(upstream, server)) == text
        assert await contents(await open_stream(upstream, server)) == text
        assert server.connections == 1
    finally:
        await server.stop()


async def test_a_stream_holds_its_place_under_the_per_host_limit_until_it_ends() -> None:
    upstream = OpenAIHTTPUpstream(max_connections_per_host=1)
    server = await serve(SSE_HEAD + b"Content-Length: %d\r\n\r\n%b" % (len(b"".join(EVENTS)), b"".join(EVENTS)))
    try:
        first = await open_stream(upstream, server)
        second = asyncio.ensure_future(open_stream(upstream, server))
        await asyncio.sleep(0.1)
        assert not second.done()  # waits for the one connection the limit allows
        assert await contents(first) == "abc"
        assert await contents(await asyncio.wait_for(second, 2)) == "abc"
        assert server.connections == 1
    finally:
        await upstream.aclose()
        await server.stop()


async def test_a_stream_stopped_early_closes_its_connection_and_frees_its_place() -> None:
    upstream = OpenAIHTTPUpstream(max_connections_per_host=1)
    server = await serve(chunked(SSE_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", EVENTS))
    try:
        stream = await open_stream(upstream, server)
        assert (await anext(stream))["choices"][0]["delta"]["content"] == "a"
        await stream.aclose()  # half read: the connection cannot be reused
        assert await contents(await asyncio.wait_for(open_stream(upstream, server), 2)) == "abc"
        assert server.connections == 2
    finally:
        await upstream.aclose()
        await server.stop()


async def test_a_stream_that_never_answers_times_out_and_frees_its_place() -> None:
    upstream = OpenAIHTTPUpstream(max_connections_per_host=1)
    hung = await serve(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Len")  # never completes its head
    try:
        spec = ModelSpec.model_validate({"id": "turnout-local", "litellm_model": "openai/org/model",
                                         "api_base": hung.base_url, "timeouts": {"first_token": 0.2}})
        for _ in range(2):  # the second would wait forever if the first kept the only place
            with pytest.raises(TurnoutError) as caught:
                request = UpstreamRequest(spec=spec, body={"messages": MSG}, stream=True)
                await asyncio.wait_for(upstream.send(request), 2)
            assert caught.value.code == "upstream_timeout"
    finally:
        await upstream.aclose()
        await hung.stop()


async def test_a_stream_cut_mid_body_is_a_stream_error_after_the_chunks_that_arrived(
        upstream: OpenAIHTTPUpstream) -> None:
    body = chunked(SSE_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", EVENTS[:2])[:-5]  # no terminator, then closed
    server = await serve(body, close_after=True)
    try:
        stream = await open_stream(upstream, server)
        received = []
        with pytest.raises(UpstreamError) as caught:
            async for chunk in stream:
                received.append(chunk["choices"][0]["delta"]["content"])
        assert received == ["a", "b"]
        assert caught.value.code == "upstream_stream_cut"
    finally:
        await server.stop()


def test_streams_on_uvloop_pause_resume_and_reuse_as_on_asyncio() -> None:
    text, response = long_stream(200_000)  # ~1.8 MB: the connection pauses and resumes reading

    async def scenario() -> tuple[bool, bool, int]:
        upstream = OpenAIHTTPUpstream()
        server = await serve(response)
        try:
            first = await read_slowly(await open_stream(upstream, server))
            again = await contents(await open_stream(upstream, server))
            return first == text, again == text, server.connections
        finally:
            await upstream.aclose()
            await server.stop()

    assert uvloop.run(scenario()) == (True, True, 1)

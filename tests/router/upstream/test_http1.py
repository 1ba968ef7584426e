"""The direct adapter's plain calls over `router.upstream.http1`, on the wire against a scripted real
server: body framings, connections closed at every point, stale pooled connections, header hygiene."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvloop

from registry import ModelSpec
from router.errors import TurnoutError, UpstreamError, UpstreamUnavailable
from router.upstream.base import UpstreamRequest
from router.upstream.openai_http import OpenAIHTTPUpstream
from tests.router.upstream.scripted_server import ScriptedServer, http_response
from tests.router.upstream.test_openai_http_wire import ANSWER, MSG

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

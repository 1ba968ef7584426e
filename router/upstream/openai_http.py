"""The direct adapter: OpenAI-compatible servers over one pooled aiohttp session, no litellm.

For `openai/...` and `hosted_vllm/...` models (and any spec that sets `adapter: openai_http`): the
body keeps only the pass-through fields, `model` becomes the part after the provider prefix, and it
is serialised with orjson and POSTed to `<api_base>/chat/completions` or `<api_base>/embeddings`.
aiohttp was chosen over httpx by measurement (CPU per call, see `benchmarks/upstream_adapters.py`);
calls to `http://` servers reached directly, plain and streamed, go over `router.upstream.http1`
instead, which costs a fifth of aiohttp's CPU per call (`https://` and proxied URLs stay on aiohttp).

Timeouts, from `UpstreamRequest.timeout` or the spec's `timeouts`:
    plain calls   `connect` to open a connection, `total` for the whole call
    streams       `connect`; `first_token` until the first chunk (`request.timeout` overrides it);
                  then `idle` between chunks

Proxies: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (and their lower-case forms) are read once, when
the adapter is built, and each upstream URL's proxy is chosen once, with the URL (no environment
lookups per request, unlike aiohttp's `trust_env`).

Every failure leaves as an error from `router.errors` (mapped in `router.upstream.http_errors`).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson
from yarl import URL

from registry import ModelSpec
from router.errors import RequestError, TurnoutError, UpstreamError
from router.upstream.base import UpstreamRequest, UpstreamResponse
from router.upstream.fields import pass_through
from router.upstream.http1 import Endpoint, HTTP1Pool
from router.upstream.http1_body import StreamedBody
from router.upstream.http_errors import invalid_response, status_error, transport_error
from router.upstream.sse import AiohttpBody, SSEStream

log = logging.getLogger("turnout.upstream")

DEFAULT_BASES = {"openai": "https://api.openai.com/v1"}
_PATHS = {"chat": "/chat/completions", "embeddings": "/embeddings"}
_JSON = "application/json"
_PLAIN_HEADERS = b"Content-Type: application/json\r\nAccept: application/json\r\n"
_STREAM_HEADERS = b"Content-Type: application/json\r\nAccept: text/event-stream\r\n"


def upstream_model(spec: ModelSpec) -> str:
    """The model name the server knows: `openai/gpt-4o-mini` -> `gpt-4o-mini`."""
    return spec.litellm_model.partition("/")[2]


class OpenAIHTTPUpstream:
    """`Upstream` straight to OpenAI-compatible servers. Build once (in the lifespan), share, and
    `await aclose()` at shutdown. The session is opened on the first call, in the serving loop."""

    def __init__(self, *, max_connections: int = 1024, max_connections_per_host: int = 256,
                 keepalive_s: float = 4.0) -> None:
        # An idle pooled connection is dropped after `keepalive_s`, just under the 5 s after which
        # uvicorn (vLLM, our simulator) and llama.cpp's server close it, so a request never
        # races the server's close on a stale connection.
        self._limits = (max_connections, max_connections_per_host, keepalive_s)
        self._session: aiohttp.ClientSession | None = None
        self._plain = HTTP1Pool(per_host=max_connections_per_host, keepalive_s=keepalive_s)
        self._urls: dict[tuple[str, str], tuple[URL, str | None, Endpoint | None]] = {}
        self._proxies = urllib.request.getproxies()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            limit, per_host, keepalive = self._limits
            connector = aiohttp.TCPConnector(limit=limit, limit_per_host=per_host, keepalive_timeout=keepalive,
                                             ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False, raise_for_status=False)
        return self._session

    async def aclose(self) -> None:
        """Close every pooled connection."""
        self._plain.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, spec: ModelSpec, kind: str) -> tuple[URL, str | None, Endpoint | None]:
        """The upstream URL for `kind`, the proxy to reach it through (None: directly), and its
        endpoint for `http1` (None: plain calls go over aiohttp too: `https://` or a proxy)."""
        key = (spec.api_base or spec.provider, kind)
        target = self._urls.get(key)
        if target is None:
            base = spec.api_base or DEFAULT_BASES.get(spec.provider)
            if base is None:
                raise UpstreamError(f"model {spec.id!r}: no api_base is configured for provider "
                                    f"{spec.provider!r}", code="upstream_not_configured")
            url = URL(base.rstrip("/") + _PATHS[kind])
            proxy = self._proxy(url)
            endpoint = Endpoint.for_url(url) if url.scheme == "http" and proxy is None and url.raw_host else None
            target = self._urls[key] = (url, proxy, endpoint)
        return target

    def _proxy(self, url: URL) -> str | None:
        proxy = self._proxies.get(url.scheme)
        if proxy is None or urllib.request.proxy_bypass(f"{url.host}:{url.port}"):
            return None
        return proxy

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        spec = request.spec
        body = pass_through(request.body, request.kind)
        body["model"] = upstream_model(spec)
        extra = self._extra_headers(request) if request.api_key or request.headers else b""
        url, proxy, endpoint = self._url(spec, request.kind)
        if request.stream:
            body["stream"] = True
            deadline = asyncio.get_running_loop().time() + (request.timeout or spec.timeouts.first_token)
            if endpoint is not None:
                return await self._open_stream_http1(request, endpoint, self._dumps(body), extra, deadline)
            return await self._open_stream(request, self._dumps(body), self._headers(request), deadline)
        payload = self._dumps(body)
        if endpoint is not None:
            return await self._send_plain(request, endpoint, payload, extra)
        headers = self._headers(request)
        timeout = aiohttp.ClientTimeout(total=request.timeout or spec.timeouts.total,
                                        sock_connect=spec.timeouts.connect)
        try:
            async with self._client().post(url, data=payload, headers=headers, proxy=proxy,
                                           timeout=timeout) as response:
                raw = await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:  # the one translation boundary
            raise self._translate(exc, spec) from exc
        if response.status >= 400:
            raise self._status_error(response.status, raw, response.headers, spec)
        return UpstreamResponse(body=self._parse(raw, spec))

    async def _send_plain(self, request: UpstreamRequest, endpoint: Endpoint, payload: bytes,
                          extra: bytes) -> UpstreamResponse:
        spec = request.spec
        try:
            reply = await self._plain.post(endpoint, _PLAIN_HEADERS + extra, payload,
                                           total=request.timeout or spec.timeouts.total, connect=spec.timeouts.connect)
        except (OSError, TimeoutError) as exc:  # the one translation boundary (BodyCutShort is an OSError)
            raise self._translate(exc, spec) from exc
        if reply.status >= 400:
            raise self._status_error(reply.status, reply.body, reply.headers, spec)
        return UpstreamResponse(body=self._parse(reply.body, spec))

    @staticmethod
    def _headers(request: UpstreamRequest) -> dict[str, str]:
        headers = {"Content-Type": _JSON, "Accept": "text/event-stream" if request.stream else _JSON}
        if request.api_key:
            headers["Authorization"] = "Bearer " + request.api_key
        if request.headers:
            headers.update(request.headers)
        return headers

    @staticmethod
    def _extra_headers(request: UpstreamRequest) -> bytes:
        """The key and trace headers as lines to send, checked for every path (aiohttp would raise a
        ValueError past the translation boundary on a line break, a key read with its trailing newline)."""
        lines = [("Authorization", "Bearer " + request.api_key)] if request.api_key else []
        lines.extend((request.headers or {}).items())
        text = "".join(f"{name}: {value}\r\n" for name, value in lines)
        try:
            block = text.encode("utf-8", "surrogateescape")  # a key read from the environment as bytes
        except UnicodeEncodeError:
            block = b""
        if not block or block.count(b"\n") != len(lines) or block.count(b"\r") != len(lines):
            raise UpstreamError(f"model {request.spec.id!r}: a request header (its key or trace context) "
                                "holds a line break or a character that cannot be sent", code="upstream_not_configured")
        return block

    @staticmethod
    def _dumps(body: dict[str, Any]) -> bytes:
        try:
            return orjson.dumps(body)
        except orjson.JSONEncodeError:  # nesting past orjson's limit, numbers past 64 bits
            raise RequestError("the request body cannot be serialised (nested too deep, or an integer "
                               "out of range)") from None

    async def _open_stream_http1(self, request: UpstreamRequest, endpoint: Endpoint, payload: bytes, extra: bytes,
                                 deadline: float) -> UpstreamResponse:
        spec = request.spec
        body = None
        try:
            async with asyncio.timeout_at(deadline):
                head, body = await self._plain.open(endpoint, _STREAM_HEADERS + extra, payload,
                                                    connect=spec.timeouts.connect)
                raw = b"".join([piece async for piece in _pieces(body)]) if head.status >= 400 else b""
        except (OSError, TimeoutError) as exc:  # the one translation boundary (BodyCutShort is an OSError)
            if body is not None:
                body.close()
            raise self._translate(exc, spec) from exc
        except BaseException:  # cancelled half-way: drop the connection
            if body is not None:
                body.close()
            raise
        if head.status >= 400:
            body.release()
            raise self._status_error(head.status, raw, head.headers, spec)
        return UpstreamResponse(stream=SSEStream(body, model_id=spec.id, first_deadline=deadline,
                                                 idle_s=spec.timeouts.idle))

    async def _open_stream(self, request: UpstreamRequest, payload: bytes, headers: dict[str, str],
                           deadline: float) -> UpstreamResponse:
        spec = request.spec
        url, proxy, _ = self._url(spec, "chat")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=spec.timeouts.connect)
        response: aiohttp.ClientResponse | None = None
        raw, opened = b"", False
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._client().post(url, data=payload, headers=headers, proxy=proxy,
                                                     timeout=timeout)
                if response.status >= 400:
                    raw = await response.read()
            opened = True
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:  # the one translation boundary
            raise self._translate(exc, spec) from exc
        finally:
            if not opened and response is not None:  # failed or cancelled half-way: drop the connection
                response.close()
        if response.status >= 400:
            response.release()
            raise self._status_error(response.status, raw, response.headers, spec)
        stream = SSEStream(AiohttpBody(response), model_id=spec.id, first_deadline=deadline,
                           idle_s=spec.timeouts.idle)
        return UpstreamResponse(stream=stream)

    def _status_error(self, status: int, raw: bytes, headers: Mapping[str, str], spec: ModelSpec) -> TurnoutError:
        error = status_error(status, raw, headers, spec.id)
        self._log(error, spec, status)
        return error

    def _parse(self, raw: bytes, spec: ModelSpec) -> dict[str, Any]:
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise invalid_response(spec.id) from exc
        if not isinstance(body, dict):
            raise invalid_response(spec.id)
        return body

    def _translate(self, exc: BaseException, spec: ModelSpec) -> TurnoutError:
        mapped = transport_error(exc, spec.id)
        self._log(mapped, spec, None, cause=type(exc).__name__)
        return mapped

    @staticmethod
    def _log(error: TurnoutError, spec: ModelSpec, status: int | None, cause: str | None = None) -> None:
        log.warning("upstream error", extra={"model": spec.id, "status": status, "error_class": cause,
                                             "mapped": type(error).__name__})


async def _pieces(body: StreamedBody) -> AsyncIterator[bytes]:
    """An error answer's body, to its end (bounded by the caller's deadline)."""
    while piece := await body.readany():
        yield piece

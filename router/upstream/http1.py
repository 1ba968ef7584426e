"""A small HTTP/1.1 client for the direct adapter's plain calls: kept-alive connections, httptools' parser.

    pool = HTTP1Pool(per_host=256, keepalive_s=4.0)
    endpoint = Endpoint.for_url(URL("http://127.0.0.1:8000/v1/chat/completions"))
    reply = await pool.post(endpoint, headers_block, payload, total=30.0, connect=5.0)

    head, body = await pool.open(endpoint, headers_block, payload, connect=5.0)   # a stream
    # ... body.readany() until b"", then body.release() (or body.close() to stop early)

Used for POSTs, plain and streamed, to `http://` upstreams reached directly (vLLM, Ollama and
llama.cpp servers on the local network); `https://` and proxied URLs stay on aiohttp. Measured on
the peer bench's request (`benchmarks/upstream_adapters.py`): aiohttp spends about 75 us of CPU per
call at concurrency 16, this client about a fifth of that, and the gateway's CPU per request is what
bounds its requests per second. A stream's body is read as it arrives (`http1_body.StreamedBody`);
the connection is held, and counts against `per_host`, until the body is released or closed.

What it does and does not do: one request at a time per connection (no pipelining); `Content-Length`
or chunked bodies, or a body up to the connection's close; idle connections are reused newest first
and dropped after `keepalive_s` (under the 5 s after which uvicorn and llama.cpp close them); a
connection whose exchange failed, timed out or was cancelled is closed, never reused; a reused
connection closed before a byte of the answer (the server's idle close racing our request) is
replaced by a new one, once. Failures leave
as `TimeoutError`, `OSError` (refused, reset, closed before an answer) or `BodyCutShort`; the
adapter maps them in `router.upstream.http_errors`.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import NamedTuple, cast

import httptools
from yarl import URL

from router.upstream.http1_body import StreamedBody


class BodyCutShort(ConnectionError):
    """The connection closed, or sent bytes that are not HTTP, after the answer had begun."""


class _Unanswered(ConnectionResetError):
    """The connection closed before a byte of the answer: on a reused connection, tried once more."""


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    """Lower-cased names; a repeated header keeps its last value."""
    body: bytes


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    head: bytes
    """`POST <path> HTTP/1.1` and the `Host` header, ready to send."""

    @classmethod
    def for_url(cls, url: URL) -> Endpoint:
        host, port = url.raw_host or "", url.port or 80
        authority = host if port == 80 else f"{host}:{port}"
        if ":" in host:  # an IPv6 literal
            authority = f"[{host}]" if port == 80 else f"[{host}]:{port}"
        path = url.raw_path_qs or "/"
        return cls(host, port, f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii"))


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Reply] | None = None
        self._headers: dict[str, str] = {}
        self._chunks: list[bytes] = []
        self._body: StreamedBody | None = None
        """While a streamed answer is read: its body, fed as the bytes arrive."""
        self._begun = self._headers_done = False
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None and self._body is None:  # bytes nobody asked for (idle): not ours to guess at
            self.abort()
            return
        self._begun = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BodyCutShort(f"not an HTTP answer: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._headers_done and "content-length" not in self._headers and \
                "chunked" not in self._headers.get("transfer-encoding", "").lower():
            self.keep_alive = False  # a body that runs to the connection's close: it ends here
            self.on_message_complete()
        elif self._begun:
            self._fail(BodyCutShort("the connection closed before the answer was complete"))
        else:
            self._fail(_Unanswered("the connection closed before an answer"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._body is not None:  # a stream: the caller gets the head now, the body as it arrives
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(Reply(self._parser.get_status_code(), self._headers, b""))

    def on_body(self, body: bytes) -> None:
        if self._body is not None:
            self._body.feed(body)
        else:
            self._chunks.append(body)

    def on_message_complete(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            self.keep_alive = self.keep_alive and self._parser.should_keep_alive()
            body.feed_eof()
            return
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        self.keep_alive = self.keep_alive and self._parser.should_keep_alive()
        waiter.set_result(Reply(self._parser.get_status_code(), self._headers, b"".join(self._chunks)))

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        body, self._body = self._body, None
        if body is not None:
            body.set_exception(exc)

    async def exchange(self, request: bytes, body: StreamedBody | None = None) -> Reply:
        """The whole answer; with `body`, a stream: the head only, the body fed to `body` as it arrives."""
        if self.closed or self._transport is None:
            raise _Unanswered("the connection closed while idle")
        self._headers, self._chunks, self._begun, self._headers_done = {}, [], False, False
        self._body = body
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._waiter

    def pause_reading(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()


class HTTP1Pool:
    """Kept-alive connections per (host, port), at most `per_host` at once (more wait their turn)."""

    def __init__(self, *, per_host: int = 256, keepalive_s: float = 4.0) -> None:
        self._per_host, self._keepalive_s = per_host, keepalive_s
        self._idle: dict[tuple[str, int], collections.deque[_Connection]] = {}
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}

    async def post(self, endpoint: Endpoint, headers: bytes, payload: bytes, *, total: float,
                   connect: float) -> Reply:
        """POST `payload` with `headers` (complete `Name: value\\r\\n` lines) within `total` seconds."""
        key = (endpoint.host, endpoint.port)
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = asyncio.Semaphore(self._per_host)
        request = b"%b%bContent-Length: %d\r\n\r\n%b" % (endpoint.head, headers, len(payload), payload)
        async with asyncio.timeout(total), slots:
            idle = self._idle.setdefault(key, collections.deque())
            connection = self._reuse(idle)
            if connection is not None:
                try:
                    return await self._exchange(connection, request, idle)
                except _Unanswered:  # the server closed it while idle, as our request went out: once more
                    pass
            return await self._exchange(await self._connect(endpoint, connect), request, idle)

    async def open(self, endpoint: Endpoint, headers: bytes, payload: bytes, *,
                   connect: float) -> tuple[Reply, StreamedBody]:
        """POST and return at the answer's head (its `body` empty): the body is read from the
        `StreamedBody`, which holds the connection and its place under `per_host` until it is released
        or closed. The caller bounds the wait (the first token's deadline)."""
        key = (endpoint.host, endpoint.port)
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = asyncio.Semaphore(self._per_host)
        request = b"%b%bContent-Length: %d\r\n\r\n%b" % (endpoint.head, headers, len(payload), payload)
        idle = self._idle.setdefault(key, collections.deque())
        await slots.acquire()
        try:
            connection = self._reuse(idle)
            if connection is not None:
                try:
                    return await self._open(connection, request, idle, slots)
                except _Unanswered:  # the server closed it while idle, as our request went out: once more
                    pass
            return await self._open(await self._connect(endpoint, connect), request, idle, slots)
        except BaseException:
            slots.release()
            raise

    @staticmethod
    async def _open(connection: _Connection, request: bytes, idle: collections.deque[_Connection],
                    slots: asyncio.Semaphore) -> tuple[Reply, StreamedBody]:
        def finished(reusable: bool) -> None:
            slots.release()
            if reusable and connection.keep_alive and not connection.closed:
                connection.idle_since = asyncio.get_running_loop().time()
                idle.append(connection)
            else:
                connection.abort()

        body = StreamedBody(connection, finished)
        opened = False
        try:
            head = await connection.exchange(request, body)
            opened = True
            return head, body
        finally:
            if not opened:
                connection.abort()

    @staticmethod
    async def _exchange(connection: _Connection, request: bytes, idle: collections.deque[_Connection]) -> Reply:
        done = False
        try:
            reply = await connection.exchange(request)
            done = True
            return reply
        finally:
            if done and connection.keep_alive and not connection.closed:
                connection.idle_since = asyncio.get_running_loop().time()
                idle.append(connection)
            else:
                connection.abort()

    def _reuse(self, idle: collections.deque[_Connection]) -> _Connection | None:
        """The newest idle connection still open and fresh; stale and closed ones are dropped on the way."""
        oldest_fresh = asyncio.get_running_loop().time() - self._keepalive_s
        while idle and (idle[0].closed or idle[0].idle_since < oldest_fresh):
            idle.popleft().abort()
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
            connection.abort()
        return None

    @staticmethod
    async def _connect(endpoint: Endpoint, connect_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(connect_s):
            _, connection = await loop.create_connection(_Connection, endpoint.host, endpoint.port)
        return connection

    def close(self) -> None:
        """Close every idle connection (ones in use close when their exchange ends)."""
        for idle in self._idle.values():
            while idle:
                idle.popleft().abort()
        self._idle.clear()

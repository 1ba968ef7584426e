"""An OpenAI server-sent event stream read incrementally into chunk dicts.

    data: {"choices": [...]}        one chunk (several `data:` lines of one event are joined)
    : keep-alive                    a comment: skipped, as are `event:`/`id:`/`retry:` lines
    data: [DONE]                    the end; the connection goes back to the pool

Lines end in LF, CRLF or CR alone (all three are SSE). A line longer than `MAX_LINE` bytes is an
upstream error, like any malformed event. The first chunk must arrive by the first-token deadline,
each later one within the idle gap. A timeout, a malformed chunk, an `{"error": ...}` event or a
connection that ends before `[DONE]` raises our error (see `router.upstream.http_errors`); the
connection is then closed, not reused. The body is read through `Body`: `router.upstream.http1`'s
`StreamedBody`, or aiohttp's response (`AiohttpBody`: `https://` and proxied upstreams).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Protocol

import aiohttp
import orjson

from router.errors import TurnoutError, UpstreamError
from router.upstream.base import Chunk
from router.upstream.http_errors import invalid_response, stream_cut, stream_error, transport_error

_DONE = b"[DONE]"
_DRAIN_LIMIT = 65536
MAX_LINE = 1 << 20
"""Bytes in one SSE line (aiohttp's own `readline` stops at far less, with an error of its own)."""


class Body(Protocol):
    """An answer's body as it arrives, and the connection under it."""

    async def readany(self) -> bytes:
        """What has arrived since the last read (waiting for something); b"" at the end."""
        ...

    def set_exception(self, exc: BaseException) -> None:
        """Makes the read in progress, and every later one, raise `exc`."""

    def release(self) -> None:
        """Read to the end: the connection may be reused."""

    def close(self) -> None:
        """Stop: the connection is closed."""


class AiohttpBody:
    __slots__ = ("_content", "_response")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._content = response.content

    async def readany(self) -> bytes:
        return await self._content.readany()

    def set_exception(self, exc: BaseException) -> None:
        self._content.set_exception(exc)

    def release(self) -> None:
        self._response.release()

    def close(self) -> None:
        self._response.close()


class _Watchdog:
    """One timer per stream instead of one per chunk: a read still waiting at its deadline gets a
    `TimeoutError` from the reader. Starting a read costs a clock read; the timer is re-armed only
    when it fires or must fire sooner (an `asyncio.timeout` per chunk cost ~30% of a stream's CPU)."""

    _SLACK = 0.001  # the loop may run a timer up to its clock resolution early

    def __init__(self, reader: Body) -> None:
        self._reader = reader
        self._loop = asyncio.get_running_loop()
        self._deadline: float | None = None  # of the read in progress; None between reads
        self._timer: asyncio.TimerHandle | None = None

    def start(self, deadline: float) -> None:
        self._deadline = deadline
        if self._timer is None or self._timer.when() > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._fire)

    def stop(self) -> None:
        self._deadline = None

    def close(self) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:  # between reads: the next read arms it again
            return
        if self._loop.time() + self._SLACK >= deadline:
            self._reader.set_exception(TimeoutError())
        else:
            self._timer = self._loop.call_at(deadline, self._fire)


class SSEStream:
    """Async iterator of chunk dicts over an answer's open `Body`; always `aclose()` it."""

    def __init__(self, body: Body, *, model_id: str, first_deadline: float, idle_s: float) -> None:
        self._body = body
        self._model_id = model_id
        self._deadline: float | None = first_deadline
        self._idle_s = idle_s
        self._done = False
        self._lines: deque[bytes] = deque()
        self._tail = b""
        """Bytes after the last complete line (a bare CR stays here: it may be half a CRLF)."""
        self._watchdog = _Watchdog(body)
        self._clock = asyncio.get_running_loop().time

    def __aiter__(self) -> SSEStream:
        return self

    async def __anext__(self) -> Chunk:
        if self._done:
            raise StopAsyncIteration
        self._watchdog.start(self._deadline or self._clock() + self._idle_s)
        try:
            data = await self._next_data()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:  # the one translation boundary
            self._fail()
            raise transport_error(exc, self._model_id, streaming=True) from exc
        except TurnoutError:
            self._fail()
            raise
        finally:
            self._watchdog.stop()
        self._deadline = None
        if data is None:
            await self._finish()
            raise StopAsyncIteration
        return self._parse(data)

    def _parse(self, data: bytes) -> Chunk:
        try:
            chunk: Any = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            self._fail()
            raise invalid_response(self._model_id) from exc
        if not isinstance(chunk, dict):
            self._fail()
            raise invalid_response(self._model_id)
        if "error" in chunk and "choices" not in chunk:
            self._fail()
            raise stream_error(chunk, self._model_id)
        return chunk

    async def _next_data(self) -> bytes | None:
        """The data of the next event, or None at `[DONE]`."""
        parts: list[bytes] = []
        while True:
            line = self._lines.popleft() if self._lines else await self._read_lines()
            if line is None:
                raise stream_cut(self._model_id)
            if not line:
                if parts:
                    break
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                parts.append(value[1:] if value[:1] == b" " else value)
        data = parts[0] if len(parts) == 1 else b"\n".join(parts)
        return None if data == _DONE else data

    async def _read_lines(self) -> bytes | None:
        """Read until at least one line is complete; return it (without its end), None at the end."""
        while not self._lines:
            piece = await self._body.readany()
            if not piece:
                if not self._tail:
                    return None
                self._lines.append(self._tail.rstrip(b"\r"))
                self._tail = b""
                break
            data = self._tail + piece if self._tail else piece
            parts = data.splitlines(keepends=True)  # bytes split on LF, CRLF and CR only
            self._tail = b"" if parts[-1].endswith(b"\n") else parts.pop()
            if len(data) > MAX_LINE and max([len(self._tail), *(len(p) for p in parts)]) > MAX_LINE:
                raise UpstreamError(f"model {self._model_id!r}: upstream sent a stream line over {MAX_LINE} bytes",
                                    code="upstream_invalid_response")
            self._lines.extend(p.rstrip(b"\r\n") for p in parts)
        return self._lines.popleft()

    async def _finish(self) -> None:
        """After `[DONE]`: read the (normally empty) rest so the connection can be kept alive."""
        self._done = True
        self._watchdog.close()
        try:
            async with asyncio.timeout(min(self._idle_s, 1.0)):
                drained = 0
                while drained <= _DRAIN_LIMIT and (piece := await self._body.readany()):
                    drained += len(piece)
        except (aiohttp.ClientError, OSError, TimeoutError):
            self._body.close()
            return
        self._body.release()

    def _fail(self) -> None:
        self._done = True
        self._watchdog.close()
        self._body.close()

    async def aclose(self) -> None:
        """Stop early: the connection is closed (a half-read body cannot be reused)."""
        if not self._done:
            self._fail()

"""A streamed answer's body as it arrives on one of `router.upstream.http1`'s connections.

    head, body = await pool.open(endpoint, headers, payload, connect=5.0)
    while piece := await body.readany():     # b"" at the end of the body
        ...
    body.release()                          # read to the end: the connection goes back to the pool
    body.close()                            # or: stop early, the connection is closed

The connection feeds it (`feed`, `feed_eof`, `set_exception`); past `HIGH_WATER` unread bytes the
connection stops reading from its socket until the reader catches up. Bytes that arrived before a
failure are read first, then the failure is raised (a timeout set by the reader's watchdog, or
`BodyCutShort` when the connection broke). `release` and `close` end the body once; whichever
comes first decides whether the connection may be reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

HIGH_WATER = 1 << 18
"""Unread bytes at which the connection pauses reading (aiohttp's stream reader uses 2 x 64 KiB)."""


class Flow(Protocol):
    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class StreamedBody:
    __slots__ = ("_chunks", "_ended", "_eof", "_error", "_finished", "_flow", "_paused", "_size", "_waiter")

    def __init__(self, flow: Flow, finished: Callable[[bool], None]) -> None:
        self._flow = flow
        self._finished = finished
        """Called once, when the body ends: True when it was read to its end (the connection may be reused)."""
        self._chunks: list[bytes] = []
        self._size = 0
        self._eof = self._paused = self._ended = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # Fed by the connection -------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > HIGH_WATER and not self._paused:
            self._paused = True
            self._flow.pause_reading()
        self._wake()

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def set_exception(self, exc: BaseException) -> None:
        """The next read that finds nothing buffered raises `exc` (and so does every read after it)."""
        if not self._eof:
            self._error = exc
            self._wake()

    @property
    def at_eof(self) -> bool:
        return self._eof and not self._chunks

    # The reader -------------------------------------------------------------------------------

    async def readany(self) -> bytes:
        """What has arrived since the last read (waiting for something), b"" at the end of the body."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._size = 0
        if self._paused:
            self._paused = False
            self._flow.resume_reading()
        return data

    def release(self) -> None:
        """Done reading: the connection is reused when the body was read to its end, else closed."""
        self._end(self.at_eof and self._error is None)

    def close(self) -> None:
        self._end(False)

    def _end(self, reusable: bool) -> None:
        if not self._ended:
            self._ended = True
            self._finished(reusable)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

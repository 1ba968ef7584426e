"""A pipelining RESP connection: commands written as they come, replies matched in order.

The request path's Redis traffic is small and latency-bound; redis-py's pipeline costs ~90 us of CPU
per round trip (pool checkout, a task, per-reply timeouts), this ~30 us: one write per batch, and
replies parsed by hiredis in `data_received` straight into the callers' futures. Errors come out
as redis-py's exception classes, so callers translate them as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse
from redis.exceptions import TimeoutError as RedisTimeoutError

Waiter = asyncio.Future[Any] | None


class RespConnection(asyncio.Protocol):
    def __init__(self, *, timeout_s: float) -> None:
        self._reader = hiredis.Reader(protocolError=InvalidResponse)
        self._waiters: deque[Waiter] = deque()
        self._transport: asyncio.Transport | None = None
        self._timeout = timeout_s
        self._timer: asyncio.TimerHandle | None = None
        self._answered = 0  # replies received so far
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int, *, timeout_s: float, connect_timeout_s: float,
                   username: str | None = None, password: str | None = None, db: int = 0) -> RespConnection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout_s):
                _, conn = await loop.create_connection(lambda: cls(timeout_s=timeout_s), host, port)
                hello: list[tuple[Any, ...]] = []
                if password:
                    hello.append(("AUTH", username, password) if username else ("AUTH", password))
                if db:
                    hello.append(("SELECT", db))
                if hello:
                    for reply in await asyncio.gather(*(conn.call(c) for c in hello)):
                        if isinstance(reply, Exception):
                            raise reply
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"redis at {host}:{port}: {type(exc).__name__}: {exc}") from exc
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def call(self, command: tuple[Any, ...]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.write([(command, future)])
        return future

    def write(self, batch: Sequence[tuple[tuple[Any, ...], Waiter]]) -> None:
        """Send a batch in one write; each future gets its reply, a reply error, or the connection's error."""
        if self.closed or self._transport is None:
            _fail([f for _, f in batch], RedisConnectionError("redis connection closed"))
            return
        self._transport.write(b"".join([hiredis.pack_command(c) for c, _ in batch]))
        self._waiters.extend(f for _, f in batch)
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._check, self._answered)

    def _check(self, answered_then: int) -> None:
        """No reply at all for a whole timeout while some were due: Redis is stuck; drop the connection."""
        self._timer = None
        if not self._waiters:
            return
        if self._answered == answered_then:
            self._abort(RedisTimeoutError(f"redis: no reply within {self._timeout:g}s"))
        else:
            self._arm()

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except InvalidResponse as exc:
                self._abort(RedisConnectionError(f"redis: protocol error: {exc}"))
                return
            if reply is False:
                return
            self._answered += 1
            waiter = self._waiters.popleft() if self._waiters else None
            if waiter is None or waiter.done():  # fire and forget, or the caller gave up
                continue
            if isinstance(reply, hiredis.ReplyError):
                waiter.set_exception(BaseParser.parse_error(str(reply)))  # type: ignore[no-untyped-call]
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._abort(RedisConnectionError(f"redis connection lost: {exc}" if exc else "redis connection closed"))

    def _abort(self, error: Exception) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters, self._waiters = self._waiters, deque()
        _fail(list(waiters), error)
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        self._abort(RedisConnectionError("redis connection closed"))


def _fail(waiters: Sequence[Waiter], error: Exception) -> None:
    for waiter in waiters:
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

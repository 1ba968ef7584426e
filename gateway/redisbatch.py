"""Automatic pipelining: Redis commands issued in the same event-loop turn travel in one pipeline.

The request path asks Redis two things at once (the rate-limit script and the exact-cache GET, run
side by side), and concurrent requests ask theirs in the same turns. Each command alone would cost
a write, a read and a pool checkout; batched, a turn's commands cost one of each. Callers await
their own command's result (or its error) and keep their own time budgets: a caller that gives up
does not disturb the others.

A batch takes the batches' own connection (or, while that one is busy, one of the client's pool:
plain TCP, TLS or unix socket alike), writes every command in one packed write and reads the replies
in order with the client's parser (hiredis), under one deadline (the client's `socket_timeout`) and
without redis-py's per-command pipeline bookkeeping. Replies are raw (no response callbacks). Errors
reach each caller as `RedisUnavailable` (`gateway.redisconn`), or `NoScriptError` for `script`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from gateway.redisconn import RedisUnavailable, translate

log = logging.getLogger("turnout.redis")

Batch = list[tuple[tuple[Any, ...], asyncio.Future[Any] | None]]


class CommandBatch:
    def __init__(self, redis: Redis, *, max_batch: int = 256) -> None:
        self.redis = redis
        self._pool = redis.connection_pool
        self._timeout = float(self._pool.connection_kwargs.get("socket_timeout") or 5.0)
        self._max = max_batch
        self._pending: Batch = []
        self._sending: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.commands = 0
        self._own: AbstractConnection | None = None
        """A connection kept out of the pool for the batches; one in flight on it at a time."""
        self._own_busy = False

    def call(self, *args: Any) -> asyncio.Future[Any]:
        """Queue one command (e.g. `"GET", key`); the future holds its reply or its error."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue(args, future)
        return future

    def send(self, *args: Any) -> None:
        """Queue a command whose reply nobody waits for (e.g. touching an LRU score)."""
        self._queue(args, None)

    async def script(self, sha: str, source: str, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA in the batch; after a Redis restart (NOSCRIPT) the script is loaded and run again."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.redis.script_load(source)
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    def _queue(self, args: tuple[Any, ...], future: asyncio.Future[Any] | None) -> None:
        self._pending.append((args, future))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._flush)
        elif len(self._pending) >= self._max:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self.batches += 1
        self.commands += len(batch)
        task = asyncio.get_running_loop().create_task(self._execute(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _execute(self, batch: Batch) -> None:
        try:
            replies = await self._round_trip([args for args, _ in batch])
        except BaseException as exc:  # connection errors, cancellation at shutdown: every caller hears it
            error = translate(exc) if isinstance(exc, Exception) else RedisUnavailable("redis: cancelled")
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future is None or future.done():  # nobody waits, or its caller gave up (timeout)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply if isinstance(reply, NoScriptError) else translate(reply))
            else:
                future.set_result(reply)

    async def _round_trip(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """One write, then the replies in order. A connection that fails before any reply is read
        (stale after a Redis restart) is replaced once; any other failure drops the connection."""
        packed = b"".join([hiredis.pack_command(c) for c in commands])
        for attempt in range(2):
            conn, own = await self._checkout()
            replies: list[Any] = []
            try:
                async with asyncio.timeout(self._timeout):  # one deadline for the batch, not one per reply
                    await conn.send_packed_command(packed, check_health=False)
                    for _ in commands:
                        try:
                            replies.append(await conn.read_response(timeout=math.inf))
                        except ResponseError as exc:  # that command's error; the connection is fine
                            replies.append(exc)
                return replies
            except TimeoutError:  # Redis is stuck: no second try, which would double the wait
                await conn.disconnect(nowait=True)
                raise
            except (RedisConnectionError, OSError):
                await conn.disconnect(nowait=True)
                if attempt or replies:
                    raise
            except BaseException:
                await conn.disconnect(nowait=True)  # replies may be left on the socket
                raise
            finally:
                await self._checkin(conn, own)
        raise AssertionError("unreachable")

    async def _checkout(self) -> tuple[AbstractConnection, bool]:
        """The batches' own connection when it is free (no pool round), else one from the pool."""
        if not self._own_busy:
            if self._own is None:
                self._own = await self._pool.get_connection()  # type: ignore[no-untyped-call]
            self._own_busy = True
            return self._own, True
        return await self._pool.get_connection(), False  # type: ignore[no-untyped-call]

    async def _checkin(self, conn: AbstractConnection, own: bool) -> None:
        if own:
            self._own_busy = False
        else:
            await self._pool.release(conn)

    async def aclose(self) -> None:
        """Wait for the batches in flight (their callers get their replies)."""
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        if self._own is not None:
            await self._pool.release(self._own)
            self._own = None
        if self.batches:
            log.info("redis: %d commands in %d pipelines (%.2f per round trip)", self.commands, self.batches,
                     self.commands / self.batches)

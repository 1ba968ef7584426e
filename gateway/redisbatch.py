"""Automatic pipelining: Redis commands issued in the same event-loop turn travel in one pipeline.

The request path asks Redis two things at once (the rate-limit script and the exact-cache GET, run
side by side), and concurrent requests ask theirs in the same turns. Each command alone would cost
a write, a read and a pool checkout; batched, a turn's commands cost one of each. Callers await
their own command's result (or its error) and keep their own time budgets: a caller that gives up
does not disturb the others.

A batch takes one of the batches' own connections (or, while all of those are busy, one of the
client's pool: plain TCP, TLS or unix socket alike), writes every command in one packed write and
reads the replies in order with the client's parser (hiredis), under one deadline (the client's
`socket_timeout`) and without redis-py's per-command pipeline bookkeeping. The own connections are
the pool's kind made with no `socket_timeout` of their own: the batch's deadline covers their
writes too, where redis-py would wrap every write in `asyncio.wait_for` (a task, a timer and a
loop turn per round trip). Replies are raw (no response callbacks). Errors reach each caller as
`RedisUnavailable` (`gateway.redisconn`), or `NoScriptError` for `script`.

At most `in_flight` round trips are under way at once (one by default): commands queued meanwhile
wait for one to end and go together in the next. Under load that means fewer, larger batches: on
the peer bench at concurrency 16, 0.26 round trips per request instead of 0.55 with four in flight,
and about 10% less gateway CPU per request; one at a time nothing changes. A batch of `max_batch`
commands goes at once, whatever is in flight.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Coroutine, Sequence
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
    def __init__(self, redis: Redis, *, max_batch: int = 256, own_connections: int = 4,
                 in_flight: int = 1) -> None:
        self.redis = redis
        self._pool = redis.connection_pool
        self._timeout = float(self._pool.connection_kwargs.get("socket_timeout") or 5.0)
        self._max = max_batch
        self._pending: Batch = []
        self._sending: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.commands = 0
        self._idle: list[AbstractConnection] = []
        """The batches' own connections, kept out of the pool, that no batch is using now."""
        self._owned: list[AbstractConnection] = []
        self._max_own = own_connections
        self._max_in_flight = in_flight
        self._in_flight = 0
        self._scheduled = False

    def call(self, *args: Any) -> asyncio.Future[Any]:
        """Queue one command (e.g. `"GET", key`); the future holds its reply or its error."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue(args, future)
        return future

    def send(self, *args: Any) -> None:
        """Queue a command whose reply nobody waits for (e.g. touching an LRU score)."""
        self._queue(args, None)

    def script(self, sha: str, source: str, keys: list[str], args: list[Any]) -> Coroutine[Any, Any, Any]:
        """EVALSHA, queued now (in this turn's batch, with the commands queued beside it); after a
        Redis restart (NOSCRIPT) the script is loaded and run again. Await the coroutine returned."""
        return self._script_reply(self.call("EVALSHA", sha, len(keys), *keys, *args), sha, source, keys, args)

    async def _script_reply(self, first: asyncio.Future[Any], sha: str, source: str, keys: list[str],
                            args: list[Any]) -> Any:
        try:
            return await first
        except NoScriptError:
            await self.redis.script_load(source)
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    def _queue(self, args: tuple[Any, ...], future: asyncio.Future[Any] | None) -> None:
        self._pending.append((args, future))
        if len(self._pending) >= self._max:
            self._flush()
        else:
            self._schedule()

    def _schedule(self) -> None:
        """The pending batch goes when this turn ends (its task's first step), unless `in_flight`
        round trips are under way: then it goes when one of them ends, with what joined it meanwhile."""
        if self._pending and not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            self._track(self._pending_batch())

    async def _pending_batch(self) -> None:
        """What is queued when it runs (the turn that started it, and what the turn after it added
        before it): one task per round trip, started by the first command, not by a callback first."""
        self._scheduled = False
        if self._pending:
            batch, self._pending = self._pending, []
            await self._execute(batch)

    def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._track(self._execute(batch))

    def _track(self, sending: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(sending)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _execute(self, batch: Batch) -> None:
        self.batches += 1
        self.commands += len(batch)
        self._in_flight += 1
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
        finally:
            self._in_flight -= 1
            self._schedule()
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
        """One of the batches' own connections when one is free (no pool round), else from the pool.
        A new own connection connects on its first write (`send_packed_command`)."""
        if self._idle:
            return self._idle.pop(), True
        if len(self._owned) < self._max_own:
            conn = self._pool.connection_class(**{**self._pool.connection_kwargs, "socket_timeout": None})
            self._owned.append(conn)
            return conn, True
        return await self._pool.get_connection(), False  # type: ignore[no-untyped-call]

    async def _checkin(self, conn: AbstractConnection, own: bool) -> None:
        if own:
            self._idle.append(conn)
        else:
            await self._pool.release(conn)

    async def aclose(self) -> None:
        """Wait for the batches in flight (their callers get their replies)."""
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        for conn in self._owned:
            await conn.disconnect()
        self._owned, self._idle = [], []
        if self.batches:
            log.info("redis: %d commands in %d pipelines (%.2f per round trip)", self.commands, self.batches,
                     self.commands / self.batches)

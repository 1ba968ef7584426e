"""Automatic pipelining: Redis commands issued in the same event-loop turn travel in one pipeline.

The request path asks Redis two things at once (the rate-limit script and the exact-cache GET, run
side by side), and concurrent requests ask theirs in the same turns. Each command alone would cost
a write, a read and a pool checkout; batched, a turn's commands cost one of each. Callers await
their own command's result (or its error) and keep their own time budgets: a caller that gives up
does not disturb the others.

For a plain TCP Redis the batches go over one `RespConnection` of their own (reconnected when it
drops; a connection silent for the client's `socket_timeout` is dropped); any other kind of
connection (TLS, unix socket) uses redis-py pipelines on the client's pool.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import NoScriptError

from gateway.resp import RespConnection

log = logging.getLogger("turnout.redis")


class CommandBatch:
    def __init__(self, redis: Redis, *, max_batch: int = 256) -> None:
        self.redis = redis
        self._max = max_batch
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any] | None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.commands = 0
        pool = redis.connection_pool
        self._direct = pool.connection_class is Connection  # plain TCP: our own pipelining connection
        self._kwargs: dict[str, Any] = pool.connection_kwargs
        self._conn: RespConnection | None = None
        self._connecting: asyncio.Task[RespConnection] | None = None

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
        conn = self._conn
        if conn is not None and not conn.closed:
            conn.write(batch)  # the common case: no task, one write
            return
        runner = self._connect_and_write(batch) if self._direct else self._execute(batch)
        task = asyncio.get_running_loop().create_task(runner)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _connect_and_write(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any] | None]]) -> None:
        try:
            if self._connecting is None or self._connecting.done():
                self._connecting = asyncio.get_running_loop().create_task(self._open())
            conn = self._conn = await asyncio.shield(self._connecting)
        except Exception as exc:  # noqa: BLE001 - every caller of the batch hears it
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(exc)
            return
        conn.write(batch)

    async def _open(self) -> RespConnection:
        kw = self._kwargs
        timeout = kw.get("socket_timeout") or 5.0
        return await RespConnection.open(kw.get("host", "127.0.0.1"), int(kw.get("port", 6379)), timeout_s=timeout,
                                         connect_timeout_s=kw.get("socket_connect_timeout") or timeout,
                                         username=kw.get("username"), password=kw.get("password"),
                                         db=int(kw.get("db", 0) or 0))

    async def _execute(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any] | None]]) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for args, _ in batch:
                    pipe.execute_command(*args)
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # connection errors, cancellation at shutdown: every caller hears it
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else ConnectionError("cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future is None or future.done():  # nobody waits, or its caller gave up (timeout)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def aclose(self) -> None:
        """Wait for the batches in flight (their callers get their replies)."""
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        if self._conn is not None:
            self._conn.close()
        if self.batches:
            log.info("redis: %d commands in %d pipelines (%.2f per round trip)", self.commands, self.batches,
                     self.commands / self.batches)

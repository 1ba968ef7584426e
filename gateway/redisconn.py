"""The one Redis layer: the client factory and the one boundary where redis-py's errors become ours.

    redis = connect(url, max_connections=64, timeout_s=0.25)   # redis://, rediss:// (TLS), unix://
    await redis.get(key)          # a Redis failure raises `RedisUnavailable`, never a redis-py error

`RedisUnavailable` is a `StoreUnavailable` (503 `store_unavailable`): left alone it fails the request
closed with an OpenAI-shaped error, never a 500. The callers that fail open (the cache, limits whose
policy says `open`, the breaker sync) catch it and go on. redis-py's exceptions are caught here and
in `gateway.redisbatch` (which uses `translate`), nowhere else.

The URL carries everything: `redis://user:password@host:6379/0` (ACL user and password),
`rediss://host:6380/0?ssl_ca_certs=/path/ca.pem` (TLS; `ssl_certfile`, `ssl_keyfile`,
`ssl_cert_reqs=none` are accepted too), `unix:///run/redis.sock?db=0`. Replies are parsed by hiredis.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, NoScriptError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.errors import StoreUnavailable


class RedisUnavailable(StoreUnavailable):
    """Redis did not answer (refused, reset, timed out, TLS or auth failed) or answered with an error."""

    def __init__(self, message: str, *, refused_credentials: bool = False) -> None:
        super().__init__(message)
        self.refused_credentials = refused_credentials
        """The server refused the user or password (a configuration error, not an outage)."""


def translate(exc: BaseException) -> RedisUnavailable:
    """Our error for a redis-py (or socket) error; the message names the kind, never the URL."""
    if isinstance(exc, RedisUnavailable):
        return exc
    refused = isinstance(exc, AuthenticationError | AuthorizationError) or (
        isinstance(exc, ResponseError) and str(exc).startswith(("WRONGPASS", "NOAUTH", "NOPERM")))
    kind = "refused the credentials" if refused else f"{type(exc).__name__}: {exc}".rstrip(": ")
    return RedisUnavailable(f"Redis is unavailable ({kind}); try again shortly", refused_credentials=refused)


def _passes(exc: BaseException) -> bool:
    """Errors that are not failures of Redis: a script to load again (NOSCRIPT), our own types."""
    return isinstance(exc, NoScriptError) or not isinstance(exc, RedisError | OSError)


class _Pipeline(Pipeline):
    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return await super().execute(raise_on_error)
        except (RedisError, OSError) as exc:
            if _passes(exc):
                raise
            raise translate(exc) from exc


class GatewayRedis(Redis):
    """redis-py's asyncio client whose every command and pipeline raises `RedisUnavailable`."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except (RedisError, OSError) as exc:
            if _passes(exc):
                raise
            raise translate(exc) from exc

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> _Pipeline:
        return _Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


def connect(url: str, *, max_connections: int, timeout_s: float) -> GatewayRedis:
    """The client of the process (the cache, keys, limits, spend and breakers share it).

    Every socket operation is bounded by `timeout_s`: a slow Redis costs a request milliseconds, not
    seconds. Past `max_connections` a call waits up to `timeout_s` for a free connection. After a Redis
    restart each pooled connection is stale once: one immediate retry on a new connection."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=timeout_s, socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 1), retry_on_error=[RedisConnectionError],
        health_check_interval=30)
    return GatewayRedis(connection_pool=pool)


def where(url: str) -> str:
    """The URL without its credentials, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<invalid URL>"
    return f"{scheme}://{rest.rpartition('@')[2]}"


async def check(redis: Redis, url: str) -> str | None:
    """Ping once at start: None when Redis answers, else a one-line reason (the password never shown)."""
    try:
        async with asyncio.timeout(max(1.0, _timeout(redis) * 4)):
            await redis.ping()
    except TimeoutError:
        return f"Redis at {where(url)} did not answer in time"
    except RedisUnavailable as exc:
        if exc.refused_credentials:
            return f"Redis at {where(url)} refused the user or password: check the URL in the policy's redis.url_env"
        return f"Redis at {where(url)} is unreachable: {exc.__cause__ or exc}"
    return None


def unusable(url: str) -> str | None:
    """Why a Redis URL cannot be used at all (`turnout serve` stops on it), or None."""
    try:
        BlockingConnectionPool.from_url(url)
    except (ValueError, TypeError) as exc:
        return f"the Redis URL {where(url)} cannot be used: {exc}"
    return None


def _timeout(redis: Redis) -> float:
    value = redis.connection_pool.connection_kwargs.get("socket_timeout")
    return float(value) if value else 1.0

"""The one place the limits decide what a Redis failure (`RedisUnavailable`, raised by the Redis layer)
means: fail open (serve, count) or closed (503)."""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Literal, Protocol

from gateway.errors import StoreUnavailable
from gateway.limits.policy import FailMode
from gateway.redisconn import RedisUnavailable

log = logging.getLogger("turnout.limits")


class RedisErrorObserver(Protocol):
    """Told of every Redis call's latency and every failure (`PrometheusMetrics` is one)."""

    def redis_error(self, component: str) -> None: ...

    def redis_latency(self, component: str, seconds: float) -> None: ...


class FailOpen(Exception):
    """Raised inside `redis_guard` when the failure is to be ignored; the caller serves the request."""


class redis_guard:  # lower case: used like the context-manager function it replaces
    """Map a Redis failure to `FailOpen` (mode open) or `StoreUnavailable` (503, mode closed), and
    report the call's latency. A class, not `@contextmanager`: it runs on every request."""

    __slots__ = ("component", "mode", "observer", "started")

    def __init__(self, component: str, mode: FailMode, observer: RedisErrorObserver | None) -> None:
        self.component, self.mode, self.observer = component, mode, observer
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if kind is None:
            if self.observer is not None:
                self.observer.redis_latency(self.component, time.perf_counter() - self.started)
            return False
        if not issubclass(kind, RedisUnavailable):
            return False
        if self.observer is not None:
            self.observer.redis_error(self.component)
        log.warning("%s: Redis unreachable (%s); failing %s", self.component, kind.__name__, self.mode)
        if self.mode == "closed":
            raise StoreUnavailable(f"{self.component} are unavailable; try again shortly") from None
        raise FailOpen(self.component) from None

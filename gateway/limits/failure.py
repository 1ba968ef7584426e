"""The one place Redis errors of the limits become a decision: fail open (serve, count) or closed (503)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from redis.exceptions import RedisError

from gateway.limits.policy import FailMode
from router.errors import StoreUnavailable

log = logging.getLogger("turnout.limits")


class RedisErrorObserver(Protocol):
    """Told of every Redis call's latency and every failure (`PrometheusMetrics` is one)."""

    def redis_error(self, component: str) -> None: ...

    def redis_latency(self, component: str, seconds: float) -> None: ...


class FailOpen(Exception):
    """Raised inside `redis_guard` when the failure is to be ignored; the caller serves the request."""


@contextmanager
def redis_guard(component: str, mode: FailMode, observer: RedisErrorObserver | None) -> Iterator[None]:
    """Map a Redis failure to `FailOpen` (mode open) or `StoreUnavailable` (503, mode closed), and
    report the call's latency."""
    started = time.perf_counter()
    try:
        yield
        if observer is not None:
            observer.redis_latency(component, time.perf_counter() - started)
    except (RedisError, OSError) as exc:
        if observer is not None:
            observer.redis_error(component)
        log.warning("%s: Redis unreachable (%s); failing %s", component, type(exc).__name__, mode)
        if mode == "closed":
            raise StoreUnavailable(f"{component} are unavailable; try again shortly") from None
        raise FailOpen(component) from None

"""The one place Redis errors of the limits become a decision: fail open (serve, count) or closed (503)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from redis.exceptions import RedisError

from gateway.limits.policy import FailMode
from router.errors import StoreUnavailable

log = logging.getLogger("turnout.limits")


class RedisErrorObserver(Protocol):
    """Told of every Redis failure (`PrometheusMetrics` is one)."""

    def redis_error(self, component: str) -> None: ...


class FailOpen(Exception):
    """Raised inside `redis_guard` when the failure is to be ignored; the caller serves the request."""


@contextmanager
def redis_guard(component: str, mode: FailMode, observer: RedisErrorObserver | None) -> Iterator[None]:
    """Map a Redis failure to `FailOpen` (mode open) or `StoreUnavailable` (503, mode closed)."""
    try:
        yield
    except (RedisError, OSError) as exc:
        if observer is not None:
            observer.redis_error(component)
        log.warning("%s: Redis unreachable (%s); failing %s", component, type(exc).__name__, mode)
        if mode == "closed":
            raise StoreUnavailable(f"{component} are unavailable; try again shortly") from None
        raise FailOpen(component) from None

"""Share breaker openings across replicas through Redis, off the request path.

Admission stays local and synchronous: `ModelBreaker.calling()` never touches Redis (pybreaker's
own Redis storage uses the blocking client inside every call, which would stall the event loop).
Instead one background task per replica, every `sync_interval_s`:

    push  each local opening as  HSET <prefix>open <model> <opened_at>, the hash kept for
          <reset_timeout> after the last opening (PEXPIRE)
    pull  the hash (one HGETALL, whatever else the Redis holds: no SCAN of the keyspace); an opening
          younger than <reset_timeout> opens a closed local breaker when it is newer than the
          breaker's own last state change (so a replica that has just probed and closed a model is
          not re-opened by an older opening, and openings applied from Redis are not echoed); older
          ones are deleted

Closing is not shared: after `reset_timeout` every replica sends its own single probe. Redis
failures (the gateway's client raises them as `StoreUnavailable`) are logged and retried on the
next tick; the breakers keep working alone meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from gateway.errors import StoreUnavailable
from router.breakers import Breakers

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("turnout.router.breakers")  # the breakers' own log, wherever the sync lives


class RedisBreakerSync:
    def __init__(self, *, redis: Redis, breakers: Breakers, prefix: str = "turnout:breaker:",
                 interval_s: float | None = None) -> None:
        self._redis = redis
        self._breakers = breakers
        self._prefix = prefix
        self._interval = interval_s
        self._pending: dict[str, float] = {}
        self._applying = False
        self._running = True
        breakers.subscribe(self._on_change)

    def close(self) -> None:
        """End `run` at its next tick, even if a cancellation of its task was lost inside a Redis call."""
        self._running = False

    def _on_change(self, model: str, old: str, new: str) -> None:
        if new == "open" and not self._applying:
            self._pending[model] = time.time()

    @property
    def key(self) -> str:
        """The hash of openings: model -> when it opened (`time.time()`)."""
        return self._prefix + "open"

    async def push(self) -> None:
        if not self._pending:
            return
        ttl_ms = max(1, round(self._breakers.policy.reset_timeout_s * 1000))
        sending = dict(self._pending)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.key, mapping={model: repr(at) for model, at in sending.items()})
                pipe.pexpire(self.key, ttl_ms)
                await pipe.execute()
        except StoreUnavailable as exc:  # kept for the next tick
            log.warning("breaker sync: cannot publish %s: %s", ", ".join(sending), type(exc).__name__)
            return
        for model, opened_at in sending.items():
            if self._pending.get(model) == opened_at:  # a newer opening meanwhile waits for the next tick
                del self._pending[model]

    async def pull(self) -> None:
        try:
            raw = await self._redis.hgetall(self.key)
        except StoreUnavailable as exc:
            log.warning("breaker sync: cannot read: %s", type(exc).__name__)
            return
        now, reset = time.time(), self._breakers.policy.reset_timeout_s
        stale: list[bytes | str] = []
        for field, value in raw.items():
            opened_at = float(value)
            if now - opened_at >= reset:
                stale.append(field)
                continue
            breaker = self._breakers.get(field.decode() if isinstance(field, bytes) else str(field))
            if breaker.state == "closed" and opened_at > breaker.changed_at:
                self._applying = True
                try:
                    breaker.force_open()
                finally:
                    self._applying = False
                log.warning("breaker %s: opened by another replica", breaker.model)
        if stale:
            try:
                await self._redis.hdel(self.key, *stale)
            except StoreUnavailable as exc:
                log.warning("breaker sync: cannot prune: %s", type(exc).__name__)

    async def run(self) -> None:
        """Push and pull forever; start it in the app's lifespan and cancel it on shutdown."""
        task = asyncio.current_task()
        while self._running:
            interval = self._interval or self._breakers.policy.sync_interval_s
            try:
                async with asyncio.timeout(max(1.0, 5 * interval)):  # a stalled Redis must not stall syncing
                    await self.push()
                    await self.pull()
            except TimeoutError:
                if task is not None and task.cancelling():  # a cancel that arrived as a timeout: stop
                    raise asyncio.CancelledError from None
                log.warning("breaker sync: Redis did not answer in time")
            await asyncio.sleep(interval)

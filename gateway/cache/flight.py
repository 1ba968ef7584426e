"""Single flight: concurrent identical exact misses call the upstream once.

The first request for a key leads; the others wait until it finishes. If the leader's answer was
stored, they get it directly (even with Redis down); otherwise they go to the upstream themselves.

A request that looked up a key just before an identical request's flight ended would miss that
answer; `ended_since(key, mark)` tells it whether such a flight ended after its lookup began (then,
and only then, it looks again: a plain miss costs one Redis round trip, not two).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class _Flight:
    __slots__ = ("done", "response")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.response: dict[str, Any] | None = None


class SingleFlight:
    def __init__(self, *, max_wait_s: float, remember: int = 4096) -> None:
        self._flights: dict[str, _Flight] = {}
        self._max_wait = max_wait_s
        self._ended: OrderedDict[str, int] = OrderedDict()  # key -> tick when a flight with an answer ended
        self._remember = remember
        self._tick = 0
        self._forgotten = 0  # the latest tick dropped from `_ended`

    def mark(self) -> int:
        """Taken when a lookup begins; compare with `ended_since` afterwards."""
        return self._tick

    def ended_since(self, key: str, mark: int) -> bool:
        """Whether a flight for `key` that had an answer may have ended after `mark` was taken."""
        ended = self._ended.get(key)
        return ended > mark if ended is not None else self._forgotten > mark

    def _end(self, key: str) -> None:
        self._tick += 1
        self._ended[key] = self._tick
        self._ended.move_to_end(key)
        if len(self._ended) > self._remember:
            _, self._forgotten = self._ended.popitem(last=False)

    def __len__(self) -> int:
        return len(self._flights)

    @asynccontextmanager
    async def join(self, key: str) -> AsyncIterator[dict[str, Any] | None]:
        """Yields None to the leader (who calls the upstream) or the leader's stored answer."""
        flight = self._flights.get(key)
        if flight is not None:
            try:
                async with asyncio.timeout(self._max_wait):
                    await flight.done.wait()
            except TimeoutError:
                pass
            if flight.response is not None:
                yield flight.response
                return
        flight = _Flight()
        self._flights.setdefault(key, flight)
        try:
            yield None
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
            if flight.response is not None:
                self._end(key)
            flight.done.set()

    def publish(self, key: str, response: dict[str, Any]) -> None:
        flight = self._flights.get(key)
        if flight is not None:
            flight.response = response

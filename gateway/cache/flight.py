"""Single flight: concurrent identical exact misses call the upstream once.

The first request for a key leads; the others wait until it finishes. If the leader's answer was
stored, they get it directly (even with Redis down); otherwise they go to the upstream themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class _Flight:
    __slots__ = ("done", "response")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.response: dict[str, Any] | None = None


class SingleFlight:
    def __init__(self, *, max_wait_s: float) -> None:
        self._flights: dict[str, _Flight] = {}
        self._max_wait = max_wait_s

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
            flight.done.set()

    def publish(self, key: str, response: dict[str, Any]) -> None:
        flight = self._flights.get(key)
        if flight is not None:
            flight.response = response

"""Runs a blocking encoder in threads, batching the texts of concurrent requests into one call.

While batches are being encoded, new requests queue up; the next free worker takes all of them (up
to `max_batch`). A lone request waits for nothing but its own encoding. One worker by default
leaves the other core to the event loop; a second worker measured no faster on a shared 2-core box.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from gateway.cache.embedding.base import Matrix

Encode = Callable[[Sequence[str]], Matrix]


class BatchingEmbedder:
    def __init__(self, encode: Encode, *, max_batch: int = 32, workers: int = 1) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._workers = workers
        self._pending: list[tuple[str, asyncio.Future[Matrix]]] = []
        self._running: set[asyncio.Task[None]] = set()
        self.batches = 0
        """Encoder calls so far (read by benchmarks and tests)."""

    async def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in texts]
        self._pending.extend(zip(texts, futures, strict=True))
        if len(self._running) < self._workers:
            task = asyncio.create_task(self._drain())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        rows = await asyncio.gather(*futures)
        return np.stack(rows)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch:]
            live = [(text, fut) for text, fut in batch if not fut.done()]
            if not live:
                continue
            self.batches += 1
            try:
                matrix = await asyncio.to_thread(self._encode, [text for text, _ in live])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, not swallowed
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), row in zip(live, matrix, strict=True):
                if not fut.done():
                    fut.set_result(row)

    async def aclose(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

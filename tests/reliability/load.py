"""A bounded open-loop load generator: requests at a steady rate for a set time, every outcome kept."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Outcome:
    status: int
    latency_s: float
    model: str = ""
    error: str = ""  # set when the client saw a failure: a non-200 status, a broken stream, a transport error
    at_s: float = 0.0  # when it was sent, from the start of the run
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadReport:
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: int = 0  # not sent: too many outstanding already

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error]

    def statuses(self) -> Counter[int]:
        return Counter(o.status for o in self.outcomes)

    def percentile(self, q: float, *, ok_only: bool = True) -> float:
        values = sorted(o.latency_s for o in self.outcomes if not ok_only or not o.error)
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    def summary(self) -> str:
        return (f"{len(self.outcomes)} requests, {len(self.failures())} failed, statuses {dict(self.statuses())}, "
                f"p50 {self.percentile(0.5) * 1000:.0f} ms, p99 {self.percentile(0.99) * 1000:.0f} ms, "
                f"skipped {self.skipped}")


async def _one(client: httpx.AsyncClient, body: dict[str, Any], at_s: float) -> Outcome:
    outcome = await _send(client, body)
    outcome.at_s = at_s
    return outcome


async def _send(client: httpx.AsyncClient, body: dict[str, Any]) -> Outcome:
    started = time.monotonic()
    try:
        if body.get("stream"):
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                data = await response.aread()
                ok = response.status_code == 200 and data.rstrip().endswith(b"data: [DONE]") \
                    and b'"error"' not in data
                return Outcome(response.status_code, time.monotonic() - started, response.headers.get(
                    "x-turnout-model", ""), "" if ok else data[-300:].decode(errors="replace"),
                               headers=dict(response.headers))
        response = await client.post("/v1/chat/completions", json=body)
        error = "" if response.status_code == 200 else response.text[:300]
        return Outcome(response.status_code, time.monotonic() - started, response.headers.get("x-turnout-model", ""),
                       error, headers=dict(response.headers))
    except httpx.HTTPError as exc:
        return Outcome(0, time.monotonic() - started, "", repr(exc))


async def run_load(base_url: str, *, rate: float, seconds: float, body: Callable[[int], dict[str, Any]],
                   max_outstanding: int = 256, request_timeout_s: float = 30) -> LoadReport:
    """Send `rate` requests a second for `seconds`; request i has body `body(i)`."""
    report = LoadReport()
    limits = httpx.Limits(max_connections=max_outstanding, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=request_timeout_s, limits=limits) as client:
        tasks: set[asyncio.Task[Outcome]] = set()
        start = time.monotonic()
        total = int(rate * seconds)
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) >= max_outstanding:
                report.skipped += 1
                continue
            task = asyncio.create_task(_one(client, body(i), time.monotonic() - start))
            tasks.add(task)
            task.add_done_callback(lambda t: (tasks.discard(t), report.outcomes.append(t.result())))
        if tasks:
            await asyncio.wait(tasks, timeout=request_timeout_s + 5)
    return report

"""Load shedding and draining, as one pure-ASGI middleware in front of everything.

- At most `server.max_in_flight` HTTP requests run at once (a stream counts until its last byte);
  past that a request gets 503 `overloaded` with `Retry-After` at once, instead of queueing behind
  the others and collapsing everyone's latency.
- A request body must arrive whole within `server.body_timeout_s` (408 otherwise), so clients that
  trickle their body cannot hold slots forever.
- On SIGTERM the gate starts draining: `/readyz` answers 503 at once and new requests get 503
  `shutting_down` with `Connection: close`, while the ones in flight finish. After
  `server.drain_delay_s` the signal goes on to uvicorn, which stops listening and waits for the
  requests in flight up to `--graceful-timeout`.

Health, readiness and metrics are never shed: an overloaded gateway must still say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import BodyTimeout, error_body, send_error

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics", "/admin/runtime"})
RETRY_AFTER_S = 1

SignalHandler = Callable[[int, Any], Any]


def _bounded(receive: Receive, timeout_s: float) -> Receive:
    """`receive`, raising BodyTimeout when the body is not complete within `timeout_s` of the start.
    Once the body is in, later calls (waiting for a disconnect) are not bounded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    done = False

    async def bounded() -> Any:
        nonlocal done
        if done:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):  # no task per call, unlike wait_for on 3.11
                message = await receive()
        except TimeoutError:
            raise BodyTimeout(f"the request body did not arrive within {timeout_s:g}s") from None
        done = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return bounded


class Gate:
    """How many requests are in flight, and whether the process is draining."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.shed = 0
        self.draining = False

    @contextlib.contextmanager
    def on_sigterm(self, delay_s: Callable[[], float]) -> Iterator[None]:
        """While inside, SIGTERM starts draining, then reaches the previous handler (uvicorn's)
        after `delay_s()` seconds. Outside the main thread, or without signals, nothing changes."""
        loop = asyncio.get_running_loop()
        try:
            previous = signal.getsignal(signal.SIGTERM)
        except ValueError:  # pragma: no cover - no signals on this platform
            yield
            return
        if not callable(previous):
            yield
            return
        chained: SignalHandler = previous

        def handle(signum: int, frame: Any) -> None:
            self.draining = True
            delay = max(0.0, delay_s())
            loop.call_soon_threadsafe(loop.call_later, delay, chained, signum, None)

        try:
            signal.signal(signal.SIGTERM, handle)
        except ValueError:  # not the main thread
            yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, chained)


async def _refuse(send: Send, *, code: str, message: str, headers: dict[str, str]) -> None:
    await send_error(send, 503, error_body(message, "server_error", code), headers)


def _server_policy(scope: Scope) -> Any:
    holder = getattr(scope["app"].state, "holder", None) if "app" in scope else None
    return None if holder is None else holder.current.policy.server


class SheddingMiddleware:
    """`ids`: request ids for the refusals (a refused request never reaches `FastPath`, which ids the rest)."""

    def __init__(self, app: ASGIApp, *, gate: Gate, ids: Callable[[Mapping[str, str]], str] | None = None) -> None:
        self.app, self.gate, self.ids = app, gate, ids

    def _refusal_headers(self, scope: Scope, headers: dict[str, str]) -> dict[str, str]:
        if self.ids is not None:
            headers["x-request-id"] = self.ids(Headers(scope=scope))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            with self.gate.on_sigterm(lambda: float(getattr(_server_policy(scope), "drain_delay_s", 0.0))):
                await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in EXEMPT:
            if self.gate.draining and path == "/readyz":
                await _refuse(send, code="shutting_down", message="the gateway is shutting down",
                              headers=self._refusal_headers(scope, {}))
                return
            await self.app(scope, receive, send)
            return
        if self.gate.draining:
            await _refuse(send, code="shutting_down", message="the gateway is shutting down; retry elsewhere",
                          headers=self._refusal_headers(scope, {"connection": "close"}))
            return
        limit = getattr(_server_policy(scope), "max_in_flight", None)
        if limit is not None and self.gate.in_flight >= limit:
            self.gate.shed += 1
            await _refuse(send, code="overloaded", message=f"the gateway is at its limit of {limit} requests "
                          "in flight; retry shortly",
                          headers=self._refusal_headers(scope, {"retry-after": str(RETRY_AFTER_S)}))
            return
        body_timeout = getattr(_server_policy(scope), "body_timeout_s", None)
        if body_timeout is not None:
            receive = _bounded(receive, body_timeout)
        self.gate.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.in_flight -= 1

"""One pybreaker circuit breaker per model, used correctly from asyncio.

    with breakers.get(model).calling():   # raises CircuitOpen when open (or a probe is out)
        await upstream.send(...)          # an exception here counts as a failure

- pybreaker counts failures only through `calling()` around the `await` (decorating an `async def`
  or `breaker.call(async_fn)` counts nothing).
- Caller errors (`RequestError`: bad request, context too long, content refused) and cancellations
  are excluded: they never open a breaker. A *suspect* upstream error (`UpstreamError.suspect`: an
  upstream 500 or a request the adapter could not translate) is deferred: `calling()` does not
  count it; the executor counts it with `record_failure` once the request has ended, unless every
  model it called failed it the same way (then the request, not the models, is at fault). A
  half-open probe counts every failure at once. pybreaker treats an excluded error like a success (the
  consecutive-failure counter restarts), except one case we change: a cancelled half-open probe
  counts as a failed probe, so the breaker re-opens instead of closing on a call that never finished.
- Half-open lets exactly one probe through at a time; other calls get `CircuitOpen` meanwhile.
- Every state change is logged and passed to `on_change(model, old, new)` (metrics).
- State is in memory, per replica; `gateway.breaker_sync` can share openings through Redis. The
  admin view is `Breakers.views()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pybreaker

from router.errors import CircuitOpen, RequestError, UpstreamError
from router.policy import BreakerPolicy

log = logging.getLogger("turnout.router.breakers")

OnChange = Callable[[str, str, str], None]
"""on_change(model, old_state, new_state); states are "closed", "open", "half-open"."""


class _Listener(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: ModelBreaker) -> None:
        self._owner = owner

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        old = old_state.name if old_state is not None else "closed"
        new = str(new_state.name)
        model = self._owner.model
        level = logging.INFO if new == pybreaker.STATE_CLOSED else logging.WARNING
        log.log(level, "breaker %s: %s -> %s (failures %d/%d)", model, old, new,
                cb.fail_counter, cb.fail_max, extra={"model": model, "old": old, "new": new})
        self._owner.changed_at = time.time()
        if new == pybreaker.STATE_OPEN:
            self._owner.opened_at = self._owner.changed_at
        for callback in self._owner.callbacks:
            callback(model, old, new)


@dataclass(frozen=True, slots=True)
class BreakerView:
    """One breaker as `GET /admin/breakers` shows it."""

    model: str
    state: str
    failures: int
    fail_max: int
    reset_timeout_s: float
    opened_at: str | None
    retry_in_s: float | None
    probing: bool

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "state": self.state, "failures": self.failures, "fail_max": self.fail_max,
                "reset_timeout_s": self.reset_timeout_s, "opened_at": self.opened_at,
                "retry_in_s": self.retry_in_s, "probing": self.probing}


class ModelBreaker:
    """The breaker of one model."""

    def __init__(self, model: str, policy: BreakerPolicy, callbacks: Sequence[OnChange] = ()) -> None:
        self.model = model
        self.callbacks = callbacks
        self.changed_at = 0.0
        """Wall-clock time of the last state change (0: none yet)."""
        self.opened_at: float | None = None
        """Wall-clock time the breaker last opened (pybreaker also times its reset on the wall clock)."""
        self._probing = False
        self._forcing = False
        self._storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=policy.fail_max, reset_timeout=policy.reset_timeout_s, exclude=[self._excluded],
            listeners=[_Listener(self)], name=model, throw_new_error_on_trip=False, state_storage=self._storage)

    def _excluded(self, exc: BaseException) -> bool:
        if isinstance(exc, asyncio.CancelledError):
            return not self._probing
        if isinstance(exc, UpstreamError) and exc.suspect:
            return not (self._probing or self._forcing)
        return isinstance(exc, RequestError)

    def configure(self, policy: BreakerPolicy) -> None:
        self._breaker.fail_max = policy.fail_max
        self._breaker.reset_timeout = policy.reset_timeout_s

    def _retry_in(self) -> float | None:
        if self._breaker.current_state != pybreaker.STATE_OPEN or self.opened_at is None:
            return None
        return max(0.0, self._breaker.reset_timeout - (time.time() - self.opened_at))

    @property
    def state(self) -> str:
        """Effective state: an open breaker whose reset timeout has passed reads "half-open"."""
        raw = str(self._breaker.current_state)
        if raw == pybreaker.STATE_OPEN and self._retry_in() == 0.0:
            return pybreaker.STATE_HALF_OPEN
        return raw

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        """Guard one upstream call; raise `CircuitOpen` without calling when the breaker refuses it."""
        if self._probing:
            raise CircuitOpen(f"model {self.model!r}: circuit half-open, probe in flight")
        probe = False
        held: int | None = None
        try:
            with contextlib.ExitStack() as stack:
                try:
                    stack.enter_context(self._breaker.calling())
                except pybreaker.CircuitBreakerError:
                    raise CircuitOpen(f"model {self.model!r}: circuit open") from None
                probe = self._probing = self._breaker.current_state == pybreaker.STATE_HALF_OPEN
                try:
                    yield
                except UpstreamError as exc:
                    if exc.suspect and not probe and not self._forcing:
                        held = self._breaker.fail_counter  # deferred: pybreaker would count it a success
                    raise
        finally:
            if probe:
                self._probing = False
            for _ in range(held - self._breaker.fail_counter if held is not None else 0):
                self._storage.increment_counter()

    def force_open(self) -> None:
        """Open now, as if it had just tripped (another replica saw the model fail)."""
        self._breaker.open()

    def record_failure(self, exc: BaseException) -> None:
        """Count a failure seen outside `calling()` (a stream that broke after its first chunk, a
        deferred suspect error)."""
        self._forcing = True
        try:
            if self._breaker.current_state != pybreaker.STATE_CLOSED or self._excluded(exc):
                return
            with contextlib.suppress(type(exc)), self.calling():
                raise exc
        finally:
            self._forcing = False

    def view(self) -> BreakerView:
        retry_in = self._retry_in()
        opened_at = datetime.fromtimestamp(self.opened_at, UTC) if self.opened_at is not None else None
        return BreakerView(
            model=self.model, state=self.state, failures=self._breaker.fail_counter,
            fail_max=self._breaker.fail_max, reset_timeout_s=self._breaker.reset_timeout,
            opened_at=opened_at.isoformat() if opened_at is not None and retry_in is not None else None,
            retry_in_s=round(retry_in, 3) if retry_in is not None else None, probing=self._probing)


class Breakers:
    """The breakers of every model, created on first use. Built once per process; survives reloads."""

    def __init__(self, policy: BreakerPolicy | None = None, *, on_change: OnChange | None = None) -> None:
        self._policy = policy or BreakerPolicy()
        self._callbacks: list[OnChange] = [on_change] if on_change is not None else []
        self._by_model: dict[str, ModelBreaker] = {}

    @property
    def policy(self) -> BreakerPolicy:
        return self._policy

    def subscribe(self, on_change: OnChange) -> None:
        """Also call `on_change(model, old, new)` on every state change (metrics, Redis sharing)."""
        self._callbacks.append(on_change)

    def get(self, model: str) -> ModelBreaker:
        breaker = self._by_model.get(model)
        if breaker is None:
            breaker = self._by_model[model] = ModelBreaker(model, self._policy, self._callbacks)
        return breaker

    def configure(self, policy: BreakerPolicy) -> None:
        """Apply new settings (hot reload); current states and counts are kept."""
        self._policy = policy
        for breaker in self._by_model.values():
            breaker.configure(policy)

    def states(self) -> dict[str, str]:
        """Model id to effective state, for `select(..., breakers=...)`."""
        return {model: b.state for model, b in self._by_model.items()}

    def views(self) -> list[BreakerView]:
        return [b.view() for _, b in sorted(self._by_model.items())]

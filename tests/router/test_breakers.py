"""Per-model breakers over pybreaker: counting under asyncio, exclusions, one half-open probe, logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from router.breakers import Breakers
from router.errors import CircuitOpen, ContextWindowExceeded, RequestError, UpstreamUnavailable
from router.policy import BreakerPolicy

FAST = BreakerPolicy(fail_max=2, reset_timeout_s=0.2)


async def fail(breakers: Breakers, model: str, error: BaseException) -> None:
    with pytest.raises(type(error)), breakers.get(model).calling():
        await asyncio.sleep(0)
        raise error


async def succeed(breakers: Breakers, model: str) -> None:
    with breakers.get(model).calling():
        await asyncio.sleep(0)


async def test_trips_after_fail_max_awaited_failures_and_refuses_calls() -> None:
    changes: list[tuple[str, str, str]] = []
    breakers = Breakers(FAST, on_change=lambda *c: changes.append(c))
    await fail(breakers, "a", UpstreamUnavailable("down"))
    assert breakers.states() == {"a": "closed"}
    await fail(breakers, "a", UpstreamUnavailable("down"))
    assert breakers.states() == {"a": "open"}
    with pytest.raises(CircuitOpen), breakers.get("a").calling():
        pytest.fail("an open breaker must not run the call")
    assert changes == [("a", "closed", "open")]
    assert breakers.get("b").state == "closed"


@pytest.mark.parametrize("error", [RequestError("bad"), ContextWindowExceeded("long"), asyncio.CancelledError()])
async def test_caller_errors_and_cancellation_never_trip(error: BaseException) -> None:
    breakers = Breakers(FAST)
    for _ in range(5):
        await fail(breakers, "a", error)
    assert breakers.states() == {"a": "closed"}


async def test_a_success_resets_the_consecutive_count() -> None:
    breakers = Breakers(FAST)
    await fail(breakers, "a", UpstreamUnavailable("down"))
    await succeed(breakers, "a")
    await fail(breakers, "a", UpstreamUnavailable("down"))
    assert breakers.states() == {"a": "closed"}


async def test_half_open_lets_one_probe_through_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="turnout.router.breakers")
    breakers = Breakers(FAST)
    for _ in range(2):
        await fail(breakers, "a", UpstreamUnavailable("down"))
    await asyncio.sleep(0.25)
    assert breakers.states() == {"a": "half-open"}
    release = asyncio.Event()
    inside: list[str] = []

    async def call(name: str) -> str:
        try:
            with breakers.get("a").calling():
                inside.append(name)
                await release.wait()
            return "ok"
        except CircuitOpen:
            return "refused"

    probe = asyncio.create_task(call("probe"))
    await asyncio.sleep(0.01)
    assert breakers.get("a").view().probing
    others = list(await asyncio.gather(call("second"), call("third")))
    assert others == ["refused", "refused"]
    release.set()
    assert await probe == "ok"
    assert inside == ["probe"]
    assert breakers.states() == {"a": "closed"}
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "breaker a: closed -> open", "breaker a: open -> half-open", "breaker a: half-open -> closed"]


async def test_a_failed_probe_reopens() -> None:
    breakers = Breakers(FAST)
    for _ in range(2):
        await fail(breakers, "a", UpstreamUnavailable("down"))
    await asyncio.sleep(0.25)
    await fail(breakers, "a", UpstreamUnavailable("still down"))
    assert breakers.states() == {"a": "open"}
    view = breakers.get("a").view()
    assert view.retry_in_s is not None and 0 < view.retry_in_s <= 0.2


async def test_a_cancelled_probe_does_not_close_the_breaker() -> None:
    breakers = Breakers(FAST)
    for _ in range(2):
        await fail(breakers, "a", UpstreamUnavailable("down"))
    await asyncio.sleep(0.25)
    await fail(breakers, "a", asyncio.CancelledError())
    assert breakers.get("a").view().state == "open"
    assert not breakers.get("a").view().probing


async def test_configure_keeps_state_and_views_serialise() -> None:
    breakers = Breakers(FAST)
    await fail(breakers, "a", UpstreamUnavailable("down"))
    breakers.configure(BreakerPolicy(fail_max=1, reset_timeout_s=5))
    await fail(breakers, "a", UpstreamUnavailable("down"))
    [view] = breakers.views()
    body = view.to_dict()
    assert (body["model"], body["state"], body["fail_max"], body["reset_timeout_s"]) == ("a", "open", 1, 5)
    assert body["opened_at"] is not None


async def test_record_failure_counts_a_failure_seen_after_the_call() -> None:
    breakers = Breakers(FAST)
    breakers.get("a").record_failure(UpstreamUnavailable("cut mid-stream"))
    breakers.get("a").record_failure(RequestError("not counted"))
    breakers.get("a").record_failure(UpstreamUnavailable("cut mid-stream"))
    assert breakers.states() == {"a": "open"}

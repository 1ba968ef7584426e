"""Chain execution over a scripted upstream: fallback, retries, breakers, deadlines, records, state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway.record import route_headers
from registry import Registry, Tier
from router.breakers import Breakers
from router.errors import (
    AllAttemptsFailed,
    ContentPolicyViolation,
    ContextWindowExceeded,
    RateLimited,
    RequestError,
    TurnoutError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from router.executor import Executor
from router.features import RequestFeatures, Signals
from router.policy import RouterPolicy
from router.record import RouteRecord
from router.select import Decision, select
from tests.router.fakes import Body, Fail, Ok, ScriptedUpstream, Step, answer, policy, registry, spec, specs_map


def setup(scripts: dict[str, list[Step]], *, tier: int = 1, pol: RouterPolicy | None = None,
          reg: Registry | None = None, breakers: Breakers | None = None
          ) -> tuple[Executor, Decision, RouteRecord, ScriptedUpstream, Registry, Breakers]:
    pol = pol or policy()
    reg = reg or registry()
    breakers = breakers or Breakers(pol.breaker)
    upstream = ScriptedUpstream(scripts)
    specs = {s.spec.id: s.spec for s in reg}
    decision = select(pol, "auto", Signals(Tier(tier)), RequestFeatures(prompt_tokens=10), reg.snapshot(), specs,
                      policy_version="v1", breakers=breakers.states())
    executor = Executor(upstream=upstream, registry=reg, breakers=breakers)
    return executor, decision, RouteRecord(decision), upstream, reg, breakers


def content(body: dict[str, Any]) -> str:
    return str(body["choices"][0]["message"]["content"])


@pytest.mark.parametrize(("tier", "model"), [(1, "small"), (2, "medium"), (3, "large")])
async def test_each_tier_is_answered_by_its_first_model(tier: int, model: str) -> None:
    executor, decision, record, upstream, reg, _ = setup({}, tier=tier)
    body = await executor.complete(decision, {"messages": []}, record)
    assert content(body) == f"answer from {model}"
    assert upstream.requests[0].body == {"messages": []}
    assert record.model == model and upstream.called() == [model]
    assert route_headers(record) == {"x-turnout-model": model, "x-turnout-tier": str(tier), "x-turnout-attempts": "1",
                                "x-turnout-policy-version": "v1"}
    stats = reg.snapshot()[model]
    assert (stats.in_flight, stats.samples, stats.error_rate) == (0, 1, 0.0)
    assert record.usage["completion_tokens"] == 5 and record.cost_usd is not None and record.cost_usd > 0


async def test_retryable_errors_retry_then_fall_back_and_every_attempt_is_recorded() -> None:
    executor, decision, record, upstream, reg, _ = setup({"small": [Fail(UpstreamUnavailable("down"))]})
    body = await executor.complete(decision, {}, record)
    assert content(body) == "answer from medium"
    assert upstream.called() == ["small", "small", "medium"]
    assert [(a.model, a.outcome, a.error, a.status, a.retry) for a in record.attempts] == [
        ("small", "error", "UpstreamUnavailable", 503, 0), ("small", "error", "UpstreamUnavailable", 503, 1),
        ("medium", "ok", None, None, 0)]
    assert route_headers(record)["x-turnout-attempts"] == "3"
    assert reg.snapshot()["small"].error_rate == 1.0 and reg.snapshot()["small"].in_flight == 0


async def test_breaker_trips_after_fail_max_and_traffic_flows_to_the_next_model() -> None:
    pol = policy(retry={"max_attempts_per_model": 1}, breaker={"fail_max": 3, "reset_timeout_s": 0.3})
    reg, breakers = registry(), Breakers(pol.breaker)
    upstream = ScriptedUpstream({"small": [Fail(UpstreamUnavailable("down"))]})
    executor = Executor(upstream=upstream, registry=reg, breakers=breakers)
    decision = select(pol, "auto", Signals(Tier(1)), RequestFeatures(prompt_tokens=1), {}, specs_map())
    for _ in range(6):
        assert content(await executor.complete(decision, {}, RouteRecord(decision))) == "answer from medium"
    assert upstream.calls_to("small") == 3
    assert breakers.states()["small"] == "open"
    record = RouteRecord(decision)
    await executor.complete(decision, {}, record)
    assert [(a.model, a.outcome, a.error) for a in record.attempts] == [
        ("small", "skipped", "CircuitOpen"), ("medium", "ok", None)]
    assert record.calls == 1
    # selection now passes over the open breaker with a reason
    fresh = select(pol, "auto", Signals(Tier(1)), RequestFeatures(prompt_tokens=1), {}, specs_map(),
                   breakers=breakers.states())
    assert fresh.chain == ("medium",)
    # after the reset timeout one probe goes through; the model has recovered, so it closes
    upstream.scripts["small"] = [Ok()]
    await asyncio.sleep(0.35)
    assert breakers.states()["small"] == "half-open"
    assert content(await executor.complete(decision, {}, RouteRecord(decision))) == "answer from small"
    assert breakers.states()["small"] == "closed"


async def test_429_waits_for_retry_after() -> None:
    executor, decision, record, upstream, _, _ = setup(
        {"small": [Fail(RateLimited("slow down", retry_after=0.3)), Ok()]})
    body = await executor.complete(decision, {}, record)
    assert content(body) == "answer from small"
    (_, first), (_, second) = upstream.calls
    assert 0.3 <= second - first < 0.5
    assert [a.error for a in record.attempts] == ["RateLimited", None]


async def test_a_retry_after_longer_than_allowed_moves_on_at_once() -> None:
    pol = policy(retry={"max_attempts_per_model": 3, "max_retry_after_s": 1.0, "backoff_base_s": 0.01,
                        "backoff_max_s": 0.01})
    executor, decision, record, upstream, _, _ = setup({"small": [Fail(RateLimited("later", retry_after=30))]},
                                                       pol=pol)
    started = time.monotonic()
    assert content(await executor.complete(decision, {}, record)) == "answer from medium"
    assert time.monotonic() - started < 0.2
    assert upstream.called() == ["small", "medium"]


@pytest.mark.parametrize("error", [RequestError("bad tool schema"), ContextWindowExceeded("too long")])
async def test_a_caller_error_is_not_retried_and_not_a_fallback(error: RequestError) -> None:
    # medium (32k window) answers 400; the only model after it is small (4k): no larger window left
    pol = policy(aliases={"auto": {"tiers": {1: ["medium", "small"]}}}, default_model="small")
    executor, decision, record, upstream, _, breakers = setup({"medium": [Fail(error)]}, pol=pol)
    with pytest.raises(type(error)) as info:
        await executor.complete(decision, {}, record)
    assert info.value is error and info.value.status == 400
    assert upstream.called() == ["medium"]
    assert breakers.states()["medium"] == "closed"


async def test_plain_400_stops_the_chain() -> None:
    executor, decision, record, upstream, _, breakers = setup({"small": [Fail(RequestError("bad"))]})
    with pytest.raises(RequestError):
        await executor.complete(decision, {}, record)
    assert upstream.called() == ["small"]
    assert [(a.model, a.error) for a in record.attempts] == [("small", "RequestError")]
    assert breakers.states()["small"] == "closed"


async def test_context_window_exceeded_goes_to_a_model_with_a_larger_window() -> None:
    specs = (spec("small", window=4096), spec("small-2", window=4096), spec("medium", window=32768))
    pol = policy(aliases={"auto": {"tiers": {1: ["small", "small-2", "medium"]}}})
    executor, decision, record, upstream, _, _ = setup(
        {"small": [Fail(ContextWindowExceeded("too long"))]}, pol=pol, reg=Registry(specs))
    assert content(await executor.complete(decision, {}, record)) == "answer from medium"
    assert upstream.called() == ["small", "medium"]


@pytest.mark.parametrize(("fallback", "answered"), [("large", "answer from large"), (None, None)])
async def test_content_policy_refusal_goes_to_the_configured_fallback(fallback: str | None,
                                                                      answered: str | None) -> None:
    pol = policy(content_policy_fallback=fallback)
    executor, decision, record, upstream, _, _ = setup({"small": [Fail(ContentPolicyViolation("refused"))]}, pol=pol)
    if answered is None:
        with pytest.raises(ContentPolicyViolation):
            await executor.complete(decision, {}, record)
        assert upstream.called() == ["small"]
    else:
        assert content(await executor.complete(decision, {}, record)) == answered
        assert upstream.called() == ["small", "large"]


@pytest.mark.parametrize(("errors", "status", "retry_after"), [
    ([RateLimited("429 sk-secret", retry_after=0.01), RateLimited("429", retry_after=2)], 429, 0.01),
    ([UpstreamTimeout("slow"), UpstreamTimeout("slow")], 504, None),
    ([UpstreamUnavailable("503"), UpstreamUnavailable("503")], 503, None),
    ([UpstreamUnavailable("503"), UpstreamError("500 from http://10.0.0.1 sk-secret")], 502, None),
    ([RateLimited("429"), UpstreamUnavailable("503")], 502, None),
])
async def test_all_failed_status(errors: list[TurnoutError], status: int, retry_after: float | None) -> None:
    pol = policy(retry={"max_attempts_per_model": 1})
    executor, decision, record, _, _, _ = setup({"small": [Fail(errors[0])], "medium": [Fail(errors[1])]}, pol=pol)
    with pytest.raises(AllAttemptsFailed) as info:
        await executor.complete(decision, {}, record)
    exc = info.value
    assert exc.status == status
    assert exc.retry_after == retry_after
    assert "sk-secret" not in exc.message and "10.0.0.1" not in exc.message
    assert exc.message.startswith("all models failed (2 calls): small: error ")
    assert record.model is None and len(record.attempts) == 2


async def test_the_overall_deadline_is_respected_and_a_cut_call_does_not_count_against_the_model() -> None:
    pol = policy(deadline_s=0.3, breaker={"fail_max": 1, "reset_timeout_s": 5})
    executor, decision, record, upstream, reg, breakers = setup({"small": [Ok(delay=3)]}, pol=pol)
    started = time.monotonic()
    with pytest.raises(AllAttemptsFailed) as info:
        await executor.complete(decision, {}, record)
    assert 0.3 <= time.monotonic() - started < 0.45
    assert info.value.status == 504
    assert upstream.called() == ["small"]
    assert breakers.states()["small"] == "closed"
    assert reg.snapshot()["small"].in_flight == 0


async def test_a_slow_model_times_out_per_attempt_and_counts_as_failing() -> None:
    reg = Registry((spec("small", total=0.1), spec("medium"), spec("large")))
    pol = policy(retry={"max_attempts_per_model": 1}, breaker={"fail_max": 1, "reset_timeout_s": 5})
    executor, decision, record, _, _, breakers = setup({"small": [Ok(delay=1)]}, pol=pol, reg=reg)
    assert content(await executor.complete(decision, {}, record)) == "answer from medium"
    assert record.attempts[0].error == "UpstreamTimeout" and record.attempts[0].latency_ms < 300
    assert breakers.states()["small"] == "open"


async def test_cancellation_does_not_trip_the_breaker_nor_leak_in_flight() -> None:
    pol = policy(breaker={"fail_max": 1, "reset_timeout_s": 5})
    executor, decision, _, _, reg, breakers = setup({"small": [Ok(delay=5)]}, pol=pol)
    for _ in range(3):
        task = asyncio.create_task(executor.complete(decision, {}, RouteRecord(decision)))
        await asyncio.sleep(0.02)
        assert reg.snapshot()["small"].in_flight == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert breakers.states()["small"] == "closed"
    stats = reg.snapshot()["small"]
    assert (stats.in_flight, stats.samples) == (0, 0)


async def test_a_model_at_max_concurrency_is_skipped_without_waiting() -> None:
    executor, decision, record, upstream, reg, _ = setup({})
    state = reg.get("small")
    assert state is not None
    state.in_flight = 8
    assert content(await executor.complete(decision, {}, record)) == "answer from medium"
    assert upstream.called() == ["medium"]
    assert [(a.model, a.outcome, a.error) for a in record.attempts] == [
        ("small", "skipped", "AtCapacity"), ("medium", "ok", None)]


async def test_a_pinned_model_is_retried_but_never_replaced() -> None:
    from router.select import pinned

    pol = policy()
    reg = registry()
    upstream = ScriptedUpstream({"small": [Fail(UpstreamUnavailable("down"))]})
    executor = Executor(upstream=upstream, registry=reg, breakers=Breakers(pol.breaker))
    decision = pinned(pol, "small", policy_version="v1")
    record = RouteRecord(decision)
    with pytest.raises(AllAttemptsFailed) as info:
        await executor.complete(decision, {}, record)
    assert info.value.status == 503
    assert upstream.called() == ["small", "small"]
    assert route_headers(record) == {"x-turnout-attempts": "2", "x-turnout-policy-version": "v1"}
    assert record.to_log()["pinned"] is True and record.to_log()["tier"] is None


def _suspect() -> UpstreamError:
    return UpstreamError("upstream 500").as_suspect()


def _failures(breakers: Breakers) -> dict[str, int]:
    return {v.model: v.failures for v in breakers.views()}


async def test_a_failure_identical_on_every_model_is_the_clients_and_trips_no_breaker() -> None:
    pol = policy(retry={"max_attempts_per_model": 1}, breaker={"fail_max": 2, "reset_timeout_s": 30})
    breakers = Breakers(pol.breaker)
    for _ in range(5):
        executor, decision, record, upstream, _, _ = setup(
            {"small": [Fail(_suspect())], "medium": [Fail(_suspect())], "large": [Fail(_suspect())]},
            pol=pol, breakers=breakers)
        with pytest.raises(AllAttemptsFailed):
            await executor.complete(decision, {}, record)
        assert len(set(upstream.called())) >= 2
    assert set(breakers.states().values()) == {"closed"} and set(_failures(breakers).values()) == {0}


async def test_a_suspect_failure_counts_once_another_model_answered() -> None:
    pol = policy(retry={"max_attempts_per_model": 1}, breaker={"fail_max": 2, "reset_timeout_s": 30})
    breakers = Breakers(pol.breaker)
    for _ in range(2):
        executor, decision, record, _, _, _ = setup({"small": [Fail(_suspect())]}, pol=pol, breakers=breakers)
        assert content(await executor.complete(decision, {}, record)) == "answer from medium"
    assert breakers.states()["small"] == "open"


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": -1_000_000, "completion_tokens": -5, "total_tokens": -1_000_005},  # would hand budget back
    {"prompt_tokens": 10**15, "completion_tokens": 10**15, "total_tokens": 2 * 10**15},  # a month's budget at once
    {"prompt_tokens": True, "completion_tokens": True, "total_tokens": 2},
    {"prompt_tokens": "12", "completion_tokens": "3"},
    None,  # no usage at all: was charged nothing
])
async def test_usage_that_cannot_be_true_is_replaced_by_the_estimate(usage: dict[str, Any] | None) -> None:
    body = {**answer("small"), "usage": usage}
    body["choices"][0]["message"]["content"] = "x" * 41  # 11 tokens at four characters a token
    executor, decision, record, _, _, _ = setup({"small": [Body(body)]})
    record.prompt_estimate = 30
    await executor.complete(decision, {"messages": []}, record)
    assert record.usage["prompt_tokens"] == 30 and record.usage["completion_tokens"] == 11
    assert record.cost_usd == pytest.approx((30 * 0.05 + 11 * 0.1) / 1e6)


async def test_usage_an_upstream_reports_sanely_is_charged_as_reported() -> None:
    executor, decision, record, _, _, _ = setup({"small": [Body({**answer("small"), "usage": {
        "prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10, "cached_tokens": 2}})]})
    record.prompt_estimate = 30
    await executor.complete(decision, {"messages": []}, record)
    assert record.usage == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10, "cached_tokens": 2}

"""Streams: invisible fallback before the first content chunk; the documented contract after it."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from gateway import sse
from registry import Registry, Tier
from router.breakers import Breakers
from router.errors import AllAttemptsFailed, UpstreamTimeout, UpstreamUnavailable
from router.executor import Executor
from router.features import RequestFeatures, Signals
from router.record import RouteRecord
from router.select import select
from router.streaming import ChunkStream, has_content
from router.upstream.base import Chunk
from tests.router.fakes import ScriptedUpstream, Step, Stream, chunk, policy, registry, spec, text_stream


def build(scripts: dict[str, list[Step]], reg: Registry | None = None, **overrides: object
          ) -> tuple[Executor, RouteRecord, ScriptedUpstream, Registry, Breakers]:
    pol = policy(**overrides)
    reg = reg or registry()
    breakers = Breakers(pol.breaker)
    upstream = ScriptedUpstream(scripts)
    decision = select(pol, "auto", Signals(Tier(1)), RequestFeatures(prompt_tokens=10, stream=True), {},
                      {s.spec.id: s.spec for s in reg})
    return Executor(upstream=upstream, registry=reg, breakers=breakers), RouteRecord(decision), upstream, reg, breakers


async def drain(stream: ChunkStream) -> list[Chunk]:
    return [c async for c in stream]


def text(chunks: list[Chunk]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


async def test_a_stream_is_relayed_with_its_preamble() -> None:
    executor, record, upstream, reg, _ = build({"small": [text_stream("small", "hel", "lo")]})
    stream = await executor.stream(record.decision, {"stream": True}, record)
    assert reg.snapshot()["small"].in_flight == 1
    chunks = await drain(stream)
    assert text(chunks) == "hello" and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert record.model == "small" and record.ttft_ms is not None
    stats = reg.snapshot()["small"]
    assert (stats.in_flight, stats.samples, stats.error_rate) == (0, 1, 0.0)
    assert upstream.requests[0].stream and upstream.requests[0].timeout == 2.0


@pytest.mark.parametrize("failure", [
    Stream([chunk("small", role=True), UpstreamUnavailable("reset")]),
    Stream([UpstreamUnavailable("reset")]),
    Stream([chunk("small", role=True)]),
    Stream([chunk("small", role=True), 1.0, chunk("small", "late")]),
], ids=["error-after-role-chunk", "error-at-once", "ends-empty", "first-token-timeout"])
async def test_a_stream_failing_before_its_first_content_falls_back_invisibly(failure: Stream) -> None:
    reg = Registry((spec("small", first_token=0.2), spec("medium"), spec("large")))
    executor, record, upstream, _, _ = build({"small": [failure], "medium": [text_stream("medium", "fine")]},
                                            reg=reg, retry={"max_attempts_per_model": 1})
    chunks = await drain(await executor.stream(record.decision, {}, record))
    assert text(chunks) == "fine"
    assert {c["model"] for c in chunks} == {"medium"}
    assert upstream.called() == ["small", "medium"]
    assert record.model == "medium" and [a.outcome for a in record.attempts] == ["error", "ok"]


async def test_a_stream_failing_after_its_first_content_raises_from_the_iterator() -> None:
    cut = Stream([chunk("small", role=True), chunk("small", "partial"), UpstreamUnavailable("connection reset")])
    executor, record, upstream, reg, breakers = build({"small": [cut]}, breaker={"fail_max": 1, "reset_timeout_s": 5})
    stream = await executor.stream(record.decision, {}, record)
    got: list[Chunk] = []
    with pytest.raises(UpstreamUnavailable) as info:
        async for c in stream:
            got.append(c)
    assert text(got) == "partial"
    assert record.stream_error == "UpstreamUnavailable" and record.to_log()["stream_error"] == "UpstreamUnavailable"
    assert upstream.called() == ["small"]
    assert breakers.states()["small"] == "open"
    stats = reg.snapshot()["small"]
    assert (stats.in_flight, stats.error_rate) == (0, 1.0)
    event = sse.error_event(info.value)
    assert event.startswith(b"data: ") and event.endswith(b"\n\n") and sse.DONE not in event
    assert json.loads(event[6:]) == {"error": {"message": "connection reset", "type": "upstream_error",
                                               "param": None, "code": "service_unavailable"}}


async def test_an_idle_gap_after_the_first_chunk_times_out() -> None:
    reg = Registry((spec("small", idle=0.1), spec("medium"), spec("large")))
    stalled = Stream([chunk("small", "a"), 1.0, chunk("small", "b")])
    executor, record, _, _, _ = build({"small": [stalled]}, reg=reg)
    stream = await executor.stream(record.decision, {}, record)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await drain(stream)
    assert time.monotonic() - started < 0.5


async def test_closing_a_stream_early_frees_its_slot_without_counting_an_error() -> None:
    executor, record, _, reg, breakers = build({"small": [text_stream("small", "a", "b", "c")]})
    stream = await executor.stream(record.decision, {}, record)
    assert has_content(await anext(stream)) is False  # the role-only preamble
    await stream.aclose()
    stats = reg.snapshot()["small"]
    assert (stats.in_flight, stats.samples) == (0, 0)
    assert breakers.states()["small"] == "closed"


async def test_all_streams_failing_before_content_is_all_attempts_failed() -> None:
    down = Stream([UpstreamUnavailable("down")])
    executor, record, _, reg, _ = build({"small": [down], "medium": [down]})
    with pytest.raises(AllAttemptsFailed) as info:
        await executor.stream(record.decision, {}, record)
    assert info.value.status == 503
    assert all(s.in_flight == 0 for s in reg.snapshot().values())


async def test_usage_from_the_last_chunk_fills_the_record() -> None:
    final = {**chunk("small"), "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2,
                                                         "total_tokens": 12}}
    executor, record, _, _, _ = build({"small": [Stream([chunk("small", "x"), chunk("small", finish=True), final])]})
    await drain(await executor.stream(record.decision, {}, record, prompt_tokens=10))
    assert record.usage == {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    assert record.cost_usd == pytest.approx((10 * 0.05 + 2 * 0.1) / 1e6)


@pytest.mark.parametrize("usage", [{"prompt_tokens": -1_000_000, "completion_tokens": -5},
                                   {"prompt_tokens": 10**15, "completion_tokens": 10**15},
                                   {"prompt_tokens": False, "completion_tokens": True}])
async def test_stream_usage_that_cannot_be_true_is_replaced_by_the_estimate(usage: dict[str, object]) -> None:
    final = {**chunk("small"), "choices": [], "usage": usage}
    words = Stream([chunk("small", "x" * 9), chunk("small", finish=True), final])
    executor, record, _, _, _ = build({"small": [words]})
    await drain(await executor.stream(record.decision, {}, record, prompt_tokens=10))
    assert record.usage == {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
    assert record.cost_usd == pytest.approx((10 * 0.05 + 3 * 0.1) / 1e6)


async def test_cancelling_the_consumer_mid_stream_settles_state() -> None:
    slow = Stream([chunk("small", "a"), 5.0, chunk("small", "b")])
    executor, record, _, reg, breakers = build({"small": [slow]})
    stream = await executor.stream(record.decision, {}, record)

    async def consume() -> None:
        async for _ in stream:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    assert reg.snapshot()["small"].in_flight == 0
    assert breakers.states()["small"] == "closed"


async def test_closing_a_stream_that_was_never_iterated_settles_it() -> None:
    executor, record, _, reg, _ = build({"small": [text_stream("small", "a")]})
    stream = await executor.stream(record.decision, {}, record)
    assert reg.snapshot()["small"].in_flight == 1
    await stream.aclose()
    await stream.aclose()
    stats = reg.snapshot()["small"]
    assert (stats.in_flight, stats.samples) == (0, 0)

from __future__ import annotations

from registry import ModelSpec, Registry
from registry.state import FRESH_BELOW_SAMPLES, SNAPSHOT_TTL_SECONDS, WINDOW_SECONDS, ModelState


def _spec(mid: str = "m") -> ModelSpec:
    return ModelSpec(id=mid, litellm_model=f"openai/{mid}")


def test_percentiles_error_rate_and_throughput_over_the_window() -> None:
    state = ModelState(_spec())
    for i in range(100):
        state.record(latency_ms=float(i + 1), ok=True, completion_tokens=10, now=1000.0)
    state.record(latency_ms=5000.0, ok=False, now=1000.0)
    stats = state.snapshot(now=1000.0)
    assert stats.latency_p50_ms is not None and 49 <= stats.latency_p50_ms <= 52
    assert stats.latency_p99_ms is not None and stats.latency_p99_ms >= 98
    assert abs(stats.error_rate - 1 / 101) < 1e-9
    assert stats.tokens_per_second is not None and stats.tokens_per_second > 0
    later = state.snapshot(now=1000.0 + WINDOW_SECONDS + 1)
    assert later.samples == 0 and later.latency_p50_ms is None and later.error_rate == 0


def test_registry_availability_and_adopting_live_state() -> None:
    old = Registry([_spec("a"), _spec("b")], {"b": "environment variable B_KEY is not set"})
    assert old.available_ids() == ["a"]
    assert old.snapshot()["b"].unavailable_reason == "environment variable B_KEY is not set"
    state = old.get("a")
    assert state is not None
    state.in_flight = 3
    state.record(latency_ms=10, ok=True)
    new = Registry([_spec("a"), _spec("b")])
    new.adopt(old)
    assert new.snapshot()["a"].in_flight == 3 and new.snapshot()["a"].samples == 1


def test_a_busy_window_snapshot_is_reused_for_successes_but_not_for_errors() -> None:
    state = ModelState(_spec())
    for _ in range(FRESH_BELOW_SAMPLES):
        state.record(latency_ms=10.0, ok=True, now=1000.0)
    first = state.snapshot(now=1000.0)
    state.record(latency_ms=10.0, ok=True, now=1000.1)
    assert state.snapshot(now=1000.1) is first  # one more success within the TTL: reused
    assert state.snapshot(now=1000.0 + SNAPSHOT_TTL_SECONDS + 0.01).samples == FRESH_BELOW_SAMPLES + 1
    state.record(latency_ms=10.0, ok=False, now=1000.3)
    assert state.snapshot(now=1000.3).error_rate > 0  # an error is seen at once


def test_a_young_window_sees_every_sample_at_once() -> None:
    state = ModelState(_spec())
    state.record(latency_ms=10.0, ok=True, now=1000.0)
    assert state.snapshot(now=1000.0).samples == 1
    state.record(latency_ms=30.0, ok=True, now=1000.0)
    assert state.snapshot(now=1000.0).samples == 2

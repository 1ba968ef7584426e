"""Graceful shutdown: on SIGTERM readiness turns false at once, new requests are refused cleanly,
streams in flight finish, and the process exits 0 within its deadline."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess
from tests.reliability.conftest import assert_openai_error, chat, reliability_policy, runtime, wait_for


def _stream_in_background(base_url: str, model: str) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            with httpx.stream("POST", base_url + "/v1/chat/completions", json=chat(model, stream=True),
                              timeout=30) as response:
                result["status"] = response.status_code
                result["body"] = b"".join(response.iter_bytes())
        except httpx.HTTPError as exc:
            result["error"] = repr(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_sigterm_drains_then_exits_zero(rsim: SimulatorProcess,
                                        gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(reliability_policy(rsim.base_url, server={"drain_delay_s": 1.5}),
                         args=("--graceful-timeout", "10"))
    thread, result = _stream_in_background(gw.base_url, "trickle")  # ~3 s of paced chunks
    assert wait_for(lambda: runtime(gw.base_url)["in_flight"] == 1, 10)
    signalled = time.monotonic()
    gw.process.send_signal(signal.SIGTERM)
    assert wait_for(lambda: runtime(gw.base_url)["draining"], 1)

    ready = httpx.get(gw.base_url + "/readyz", timeout=2)
    assert_openai_error(ready, 503, "shutting_down")
    assert httpx.get(gw.base_url + "/healthz", timeout=2).status_code == 200  # alive, just not ready
    refused = httpx.post(gw.base_url + "/v1/chat/completions", json=chat("fast"), timeout=2)
    assert_openai_error(refused, 503, "shutting_down")
    assert refused.headers["connection"] == "close"

    assert gw.process.wait(20) == 0
    thread.join(10)
    assert result.get("status") == 200, result
    assert result["body"].rstrip().endswith(b"data: [DONE]")  # the stream finished whole
    assert time.monotonic() - signalled < 15


def test_streams_past_the_graceful_timeout_are_cut_and_the_process_still_exits(
        rsim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]) -> None:
    gw = gateway_factory(reliability_policy(rsim.base_url), args=("--graceful-timeout", "1"))
    thread, result = _stream_in_background(gw.base_url, "trickle")
    assert wait_for(lambda: runtime(gw.base_url)["in_flight"] == 1, 10)
    signalled = time.monotonic()
    gw.process.send_signal(signal.SIGTERM)
    assert gw.process.wait(15) == 0
    assert time.monotonic() - signalled < 8
    thread.join(10)
    assert not result.get("body", b"").rstrip().endswith(b"data: [DONE]")

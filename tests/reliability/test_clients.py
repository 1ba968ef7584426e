"""Odd clients: one that hangs up mid-stream, and ones that trickle their request body."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess
from tests.reliability.conftest import chat, reliability_policy, runtime, wait_for


@pytest.fixture(scope="module")
def gw(rsim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    return gateway_factory(reliability_policy(rsim.base_url, server={"body_timeout_s": 1.5}))


def _inflight_gauges(base_url: str) -> list[float]:
    text = httpx.get(base_url + "/metrics", timeout=5).text
    prefix = "turnout_inflight_requests{"
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)]


def test_a_client_hanging_up_mid_stream_cancels_the_upstream_call(gw: GatewayProcess) -> None:
    httpx.post(gw.base_url + "/v1/chat/completions", json=chat("fast"), timeout=10).raise_for_status()  # warm
    idle = runtime(gw.base_url)
    for _ in range(3):
        with httpx.stream("POST", gw.base_url + "/v1/chat/completions", json=chat("trickle", stream=True),
                          timeout=10) as response:
            assert response.status_code == 200
            chunks = response.iter_bytes()
            assert next(chunks).startswith(b"data: ")
            assert runtime(gw.base_url)["in_flight"] == 1
            assert runtime(gw.base_url)["open_fds"] > idle["open_fds"]  # the upstream connection
        # the stream had ~3 s to go: the gateway must notice at once, not when the upstream ends
        assert wait_for(lambda: runtime(gw.base_url)["in_flight"] == 0, 1.5)
    assert wait_for(lambda: all(v == 0 for v in _inflight_gauges(gw.base_url)), 2)
    assert wait_for(lambda: runtime(gw.base_url)["tasks"] <= idle["tasks"], 3)
    assert wait_for(lambda: runtime(gw.base_url)["open_fds"] <= idle["open_fds"] + 2, 3)  # upstream sockets closed


def _trickle(port: int, seconds: float) -> bytes:
    """Send a request whose 200-byte body dribbles in a byte at a time; return what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds + 5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"content-length: 200\r\n\r\n{")
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                sock.sendall(b" ")
                time.sleep(0.2)
        except OSError:  # the server closed on us: what it said is in the receive buffer
            pass
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)


def test_clients_trickling_their_body_are_timed_out_without_starving_others(gw: GatewayProcess) -> None:
    with ThreadPoolExecutor(8) as pool:
        slow = [pool.submit(_trickle, gw.port, 4.0) for _ in range(8)]
        time.sleep(0.3)
        started = time.monotonic()
        for _ in range(10):
            response = httpx.post(gw.base_url + "/v1/chat/completions", json=chat("fast"), timeout=5)
            assert response.status_code == 200
        assert time.monotonic() - started < 5
        answers = [f.result(timeout=15) for f in slow]
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer[:200]
        assert json.loads(body)["error"]["code"] == "request_timeout"
    assert wait_for(lambda: runtime(gw.base_url)["in_flight"] == 0, 3)

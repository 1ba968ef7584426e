"""Upstream edge cases on the direct (aiohttp) path (issue 17, item 3; issue 18, rows 3 and 9): a 200
with an empty, non-JSON or choice-less body, a connection reset mid-body, malformed first chunks,
stream lines over the line limit, CR-only line ends; and proxies from the environment. Before the
first byte each fault falls back to the next model; after it the stream ends with an error event;
never a 500. Real gateway processes, the simulator's faults, the real `openai` SDK and httpx.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, get_args

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.config import Fault, FaultKind, SimModel, SimulatorConfig
from simulator.process import SimulatorProcess, start_simulator
from tests.conftest import SIM_MODELS, GatewayProcess, base_policy

MSG = [{"role": "user", "content": "Say hello to the turnout"}]
BEFORE_FIRST_BYTE: list[tuple[FaultKind, bool]] = [  # (fault, stream)
    ("empty_body", False), ("empty_body", True), ("not_json", False), ("not_json", True),
    ("bad_choices", False), ("bad_choices", True), ("empty_choices", False), ("empty_choices", True),
    ("reset_mid_body", False), ("reset_mid_body", True), ("oversized_line", True), ("malformed_chunk", True)]
AFTER_FIRST_BYTE: list[FaultKind] = ["bad_choices", "reset_mid_body", "oversized_line", "malformed_chunk"]


def _name(kind: str, when: str) -> str:
    return f"edge-{kind.replace('_', '-')}-{when}"


@pytest.fixture(scope="module")
def edge_sim() -> Iterator[SimulatorProcess]:
    edges = [SimModel(name=_name(kind, "first"), faults=(Fault(kind=kind, after_chunks=0),))
             for kind in {k for k, _ in BEFORE_FIRST_BYTE}]
    edges += [SimModel(name=_name(kind, "late"), faults=(Fault(kind=kind, after_chunks=3),))
              for kind in AFTER_FIRST_BYTE]
    edges.append(SimModel(name="edge-cr-only", faults=(Fault(kind="cr_line_ends"),)))
    edges.append(SimModel(name="edge-any"))  # faults set by the property test
    with start_simulator(SimulatorConfig(seed=5, models=(*SIM_MODELS, *edges))) as process:
        yield process


def _policy(sim_url: str) -> dict[str, Any]:
    policy = base_policy(sim_url)
    names = [_name(k, "first") for k in {k for k, _ in BEFORE_FIRST_BYTE}]
    names += [_name(k, "late") for k in AFTER_FIRST_BYTE] + ["edge-cr-only", "edge-any"]
    for name in names:
        policy["models"].append({"id": name, "litellm_model": f"openai/{name}",  # type: ignore[attr-defined]
                                 "api_base": f"{sim_url}/v1"})
        policy["router"]["aliases"][f"via-{name}"] = {  # type: ignore[index]
            "tiers": {tier: [name, "local-small"] for tier in (1, 2, 3)}}
    policy["router"]["retry"] = {"max_attempts_per_model": 1}  # type: ignore[index]
    return policy


@pytest.fixture(scope="module")
def gw(edge_sim: SimulatorProcess, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    return gateway_factory(_policy(edge_sim.base_url))


def _post(gw: GatewayProcess, model: str, *, stream: bool) -> tuple[httpx.Response, bytes]:
    with httpx.stream("POST", gw.base_url + "/v1/chat/completions", timeout=60,
                      json={"model": model, "messages": MSG, "stream": stream}) as response:
        return response, b"".join(response.iter_bytes())


@pytest.mark.parametrize(("kind", "stream"), BEFORE_FIRST_BYTE, ids=[f"{k}-{'stream' if s else 'plain'}"
                                                                      for k, s in BEFORE_FIRST_BYTE])
def test_a_fault_before_the_first_byte_falls_back(gw: GatewayProcess, kind: str, stream: bool) -> None:
    response, body = _post(gw, f"via-{_name(kind, 'first')}", stream=stream)
    assert response.status_code == 200, body[:500]
    assert response.headers["x-turnout-model"] == "local-small"
    assert response.headers["x-turnout-attempts"] == "2"
    if stream:
        assert body.endswith(b"data: [DONE]\n\n") and b'"error"' not in body
    else:
        assert "[local-small]" in httpx.Response(200, content=body).json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize("kind", AFTER_FIRST_BYTE)
def test_a_fault_after_the_first_byte_ends_the_stream_with_an_error_event(gw: GatewayProcess, kind: str) -> None:
    response, body = _post(gw, _name(kind, "late"), stream=True)
    assert response.status_code == 200
    events = [e for e in body.split(b"\n\n") if e]
    assert b'"content"' in events[0] and b"data: [DONE]" not in body
    error = httpx.Response(200, content=events[-1].removeprefix(b"data: ")).json()["error"]
    assert error["type"] == "upstream_error" and error["code"].startswith("upstream_"), error


def test_cr_only_line_ends_are_read_as_lines(gw: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    chunks = list(client.chat.completions.create(model="edge-cr-only", messages=MSG, stream=True))  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[edge-cr-only]") and chunks[-1].choices[0].finish_reason == "stop"


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(get_args(FaultKind)), stream=st.booleans(), after=st.integers(0, 4))
def test_any_simulator_fault_falls_back_or_ends_cleanly(gw: GatewayProcess, edge_sim: SimulatorProcess,
                                                        kind: str, stream: bool, after: int) -> None:
    """Every fault the simulator knows (new ones included, from its config type), at any point."""
    fault = {"kind": kind, "after_chunks": after, "hang_s": 0.2, "retry_after_s": 0.1}
    set_faults = httpx.post(edge_sim.base_url + "/_sim/faults", json={"model": "edge-any", "faults": [fault]})
    assert set_faults.status_code == 200, set_faults.text
    response, body = _post(gw, "via-edge-any", stream=stream)
    assert response.status_code == 200, body[:300]
    if stream:
        last = [e for e in body.split(b"\n\n") if e][-1]
        assert last == b"data: [DONE]" or b'"error"' in last, last[:300]


def test_no_fault_gave_a_500(gw: GatewayProcess) -> None:
    metrics = httpx.get(gw.base_url + "/metrics", timeout=10).text
    assert 'status="500"' not in metrics and "unhandled error" not in gw.logs()


class _Proxy:
    """A forward HTTP proxy on loopback (absolute-form request lines) that counts what it forwards."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        method, target, version = line.split(b" ", 2)
        self.requests.append(target)
        url = httpx.URL(target.decode())
        up_reader, up_writer = await asyncio.open_connection(url.host, url.port)
        up_writer.write(b" ".join([method, url.raw_path, version]))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    def close(self) -> None:
        """Cancel the connections still open (kept alive by the gateway), then stop the loop."""
        async def cancel_connections() -> None:
            others = asyncio.all_tasks() - {asyncio.current_task()}
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_connections(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture(scope="module")
def proxy() -> Iterator[_Proxy]:
    running = _Proxy()
    yield running
    running.close()


@pytest.mark.parametrize("no_proxy", [None, "127.0.0.1"])
def test_proxy_environment_variables_are_honoured(edge_sim: SimulatorProcess, proxy: _Proxy, no_proxy: str | None,
                                                  gateway_factory: Callable[..., GatewayProcess]) -> None:
    env = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}"} | ({"NO_PROXY": no_proxy} if no_proxy else {})
    gw = gateway_factory(base_policy(edge_sim.base_url), env=env)
    proxy.requests.clear()
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    for stream in (False, True):
        answer = client.chat.completions.create(model="local-small", messages=MSG, stream=stream)  # type: ignore[call-overload]
        assert answer is not None
    routed = [t for t in proxy.requests if t.endswith(b"/v1/chat/completions")]  # one per connection
    assert bool(routed) == (no_proxy is None), proxy.requests

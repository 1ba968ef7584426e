"""Traces received by a real OTLP/HTTP endpoint: a gateway process exporting to a receiver in this
test (which decodes the protobuf with opentelemetry-proto), the simulator as upstream, and the
receiver also serving as an OpenAI-compatible upstream that records the headers it is sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, base_policy

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
SECRET_PROMPT = "the secret prompt text 7f3a"


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[dict[str, Any]] = []
        self.upstream_headers: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_spans(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(self.spans):
            assert time.monotonic() < deadline, f"spans not received in {timeout_s} s: {self.spans}"
            time.sleep(0.05)


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(raw)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        self.server.spans.append({
                            "name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(), "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "attributes": {a.key: _value(a.value) for a in span.attributes}})
            self._answer(b"", "application/x-protobuf")
            return
        self.server.upstream_headers.append({k.lower(): v for k, v in self.headers.items()})
        answer = {"id": "x", "object": "chat.completion", "created": 0, "model": "echo",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "echo"},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
        self._answer(json.dumps(answer).encode(), "application/json")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def traced_policy(sim_url: str, receiver_url: str) -> dict[str, Any]:
    policy = base_policy(sim_url)
    policy["models"].append({"id": "echo", "litellm_model": "openai/echo", "api_base": f"{receiver_url}/v1",  # type: ignore[attr-defined]
                             "tags": ["local"]})
    policy["router"] = {"default_model": "local-medium",
                        "aliases": {"chain": {"tiers": {1: ["local-small", "local-medium"]}}},
                        "retry": {"max_attempts_per_model": 1}}
    policy["cache"] = {"enabled": False}
    return policy


@pytest.fixture(scope="module")
def tgw(sim: SimulatorProcess, receiver: Receiver, gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    return gateway_factory(traced_policy(sim.base_url, receiver.url),
                           env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"})


def test_a_request_and_its_attempts_arrive_as_one_trace(tgw: GatewayProcess, sim: SimulatorProcess,
                                                        receiver: Receiver) -> None:
    httpx.post(sim.base_url + "/_sim/faults", json={"model": "local-small", "faults": [{"kind": "http_500"}]})
    try:
        client = openai.OpenAI(base_url=tgw.base_url + "/v1", api_key="x", max_retries=0, timeout=30)
        raw = client.chat.completions.with_raw_response.create(
            model="chain", messages=[{"role": "user", "content": SECRET_PROMPT}],
            extra_headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01", "x-request-id": "traced-1"})
    finally:
        httpx.post(sim.base_url + "/_sim/faults", json={"model": "local-small", "faults": []})
    assert raw.headers["x-turnout-model"] == "local-medium"
    receiver.wait_spans(lambda spans: any(s["attributes"].get("turnout.request_id") == "traced-1" for s in spans)
                        and len([s for s in spans if s["trace_id"] == TRACE_ID]) >= 3)
    trace = [s for s in receiver.spans if s["trace_id"] == TRACE_ID]
    request = next(s for s in trace if s["parent"] == CLIENT_SPAN)  # the client's traceparent is the parent
    attrs = request["attributes"]
    assert request["name"] == "chat chain"
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.request.model"] == "chain"
    assert attrs["gen_ai.response.model"] == "local-medium" and attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["turnout.alias"] == "chain" and attrs["turnout.attempts"] == 2
    assert attrs["turnout.cache"] == "bypass" and attrs["turnout.fallback_reason"] == "UpstreamError"
    attempts = sorted((s for s in trace if s["parent"] == request["span_id"]), key=lambda s: s["start"])
    assert [a["attributes"]["gen_ai.request.model"] for a in attempts] == ["local-small", "local-medium"]
    assert attempts[0]["attributes"]["error.type"] == "UpstreamError"
    assert attempts[1]["attributes"]["turnout.outcome"] == "ok"
    assert request["start"] <= attempts[0]["start"] <= attempts[0]["end"] <= attempts[1]["end"] <= request["end"]
    assert SECRET_PROMPT not in json.dumps(receiver.spans)  # no prompt text unless the policy asks


def test_traceparent_is_propagated_to_an_openai_compatible_upstream(tgw: GatewayProcess, receiver: Receiver) -> None:
    client = openai.OpenAI(base_url=tgw.base_url + "/v1", api_key="x", max_retries=0, timeout=30)
    client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"})
    sent = receiver.upstream_headers[-1]["traceparent"]
    version, trace_id, parent, flags = sent.split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert parent != CLIENT_SPAN  # the gateway's own request span
    receiver.wait_spans(lambda spans: any(s["span_id"] == parent for s in spans))


def test_a_stream_through_the_messages_api_is_traced_when_it_ends(tgw: GatewayProcess, receiver: Receiver) -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=tgw.base_url, api_key="x", max_retries=0, timeout=30)
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with client.messages.stream(model="local-small", max_tokens=64, messages=[{"role": "user", "content": "hi"}],
                                extra_headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"}) as stream:
        assert stream.get_final_message().content
    receiver.wait_spans(lambda spans: len([s for s in spans if s["trace_id"] == trace_id]) >= 2)
    spans = [s for s in receiver.spans if s["trace_id"] == trace_id]
    request = next(s for s in spans if s["parent"] == "b7ad6b7169203331")
    assert request["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert request["attributes"]["gen_ai.usage.output_tokens"] > 0
    assert [s["attributes"]["turnout.outcome"] for s in spans if s["parent"] == request["span_id"]] == ["ok"]

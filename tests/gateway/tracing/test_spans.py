"""Spans built from a request's record, read back from the SDK's in-memory exporter; when tracing is on."""

from __future__ import annotations

import json
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.record import RequestRecord
from gateway.tracing.build import traces_endpoint
from gateway.tracing.policy import TracingPolicy
from gateway.tracing.spans import Tracing
from tests.gateway.records import routed_record

MESSAGES = [{"role": "user", "content": "a prompt"}]


def tracing(*, capture: bool) -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider, capture_content=capture, provider_of=lambda m: "openai"), exporter


def record(tracer: Tracing, **headers: str) -> RequestRecord:
    rec = routed_record(request_id="r1", endpoint="chat", route="auto", model="m2", tier=2, status=200,
                        tokens_in=5, tokens_out=7, cache="miss",
                        attempts=[("m1", "RateLimited", 3.0, time.time() - 0.01), ("m2", "ok", 5.0, time.time())])
    rec.trace = tracer.begin(headers, {"messages": MESSAGES})
    rec.trace.answered({"choices": [{"message": {"content": "an answer"}, "finish_reason": "stop"}]})
    return rec


def test_no_text_in_spans_unless_asked() -> None:
    tracer, exporter = tracing(capture=False)
    tracer.observe(record(tracer))
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert "a prompt" not in json.dumps([dict(s.attributes or {}) for s in spans])
    request = next(s for s in spans if s.name == "chat auto")
    assert request.attributes is not None and request.attributes["turnout.tier"] == 2
    assert request.attributes["turnout.fallback_reason"] == "RateLimited"


def test_content_in_spans_when_the_policy_asks() -> None:
    tracer, exporter = tracing(capture=True)
    tracer.observe(record(tracer))
    request = next(s for s in exporter.get_finished_spans() if s.name == "chat auto")
    assert request.attributes is not None
    assert json.loads(str(request.attributes["gen_ai.input.messages"])) == MESSAGES
    assert "an answer" in str(request.attributes["gen_ai.output.messages"])


def test_tracing_is_off_unless_configured() -> None:
    assert traces_endpoint(TracingPolicy(), {}) is None
    assert traces_endpoint(TracingPolicy(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == "http://c:4318/v1/traces"
    assert traces_endpoint(TracingPolicy(enabled=False), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) is None
    assert traces_endpoint(TracingPolicy(enabled=True, endpoint="http://o:4318"), {}) == "http://o:4318/v1/traces"

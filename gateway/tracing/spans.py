"""A span per request and a child span per upstream attempt, with GenAI semantic-convention
attributes and Turnout's own.

The request span begins on the request path (`Tracing.begin`, the client's W3C `traceparent` as
its parent) and ends when the request's record is observed (after a stream's last byte). Attempt
spans are laid from the route record: each attempt's end time and latency. OpenAI-compatible
upstreams get a `traceparent` naming the request span. No prompt or answer text unless
`capture_content`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.record import RequestRecord


class RequestTrace:
    """One request's span, what it sends upstream, and what it has seen of the answer."""

    __slots__ = ("finish_reason", "outbound", "output", "span")

    def __init__(self, span: Any, outbound: dict[str, str]) -> None:
        self.span = span
        self.outbound = outbound
        self.finish_reason: str | None = None
        self.output: list[str] | None = None

    def answered(self, result: Mapping[str, Any]) -> None:
        choice = (result.get("choices") or [{}])[0]
        self.finish_reason = choice.get("finish_reason")
        if self.output is not None:
            self.output.append((choice.get("message") or {}).get("content") or "")

    def chunk(self, chunk: Mapping[str, Any]) -> None:
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
            if self.output is not None:
                self.output.append((choice.get("delta") or {}).get("content") or "")


class Tracing:
    def __init__(self, provider: Any, *, capture_content: bool, provider_of: Callable[[str], str | None]) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self._tracer = provider.get_tracer("turnout.gateway")
        self._propagator = TraceContextTextMapPropagator()
        self._capture = capture_content
        self._provider_of = provider_of
        self._server, self._client = SpanKind.SERVER, SpanKind.CLIENT
        self._error = Status(StatusCode.ERROR)
        self._in_context = set_span_in_context

    def begin(self, headers: Mapping[str, str], body: Mapping[str, Any]) -> RequestTrace:
        parent = self._propagator.extract(headers) if "traceparent" in headers else None
        span = self._tracer.start_span("chat", context=parent, kind=self._server)
        ctx = span.get_span_context()  # what upstreams are sent, without a propagator round trip
        trace = RequestTrace(span, {"traceparent": f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"})
        if self._capture:
            span.set_attribute("gen_ai.input.messages", json.dumps(body.get("messages"), default=str))
            trace.output = []
        return trace

    def observe(self, record: RequestRecord) -> None:
        trace = record.trace
        if trace is None:
            return
        span = trace.span
        span.update_name(f"chat {record.route}")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": record.route,
            "gen_ai.usage.input_tokens": record.tokens_in, "gen_ai.usage.output_tokens": record.tokens_out,
            "http.response.status_code": record.status, "turnout.request_id": record.request_id,
            "turnout.tenant": record.tenant, "turnout.alias": record.route, "turnout.route": ">".join(record.chain),
            "turnout.cache": record.cache, "turnout.attempts": len(record.attempts)}
        if record.model is not None:
            attributes["gen_ai.response.model"] = record.model
            attributes["gen_ai.provider.name"] = self._provider_of(record.model) or "unknown"
        if record.tier is not None:
            attributes["turnout.tier"] = record.tier
        if trace.finish_reason is not None:
            attributes["gen_ai.response.finish_reasons"] = [trace.finish_reason]
        if record.fallbacks:
            attributes["turnout.fallback_reason"] = record.fallbacks[0][2]
        if record.error_class is not None:
            attributes["error.type"] = record.error_class
            span.set_status(self._error)
        if trace.output is not None:
            attributes["gen_ai.output.messages"] = json.dumps([{"role": "assistant", "content": "".join(trace.output)}])
        span.set_attributes(attributes)
        self._attempts(record, span)
        span.end()

    def _attempts(self, record: RequestRecord, parent: Any) -> None:
        if not record.attempts:
            return
        context = self._in_context(parent)
        offset = time.time_ns() - time.perf_counter_ns()
        for attempt in record.attempts:
            end = int(attempt.ended * 1e9) if attempt.ended else time.perf_counter_ns() + offset
            start = end - int(attempt.latency_ms * 1e6)
            span = self._tracer.start_span(f"chat {attempt.model}", context=context, kind=self._client,
                                           start_time=start, attributes={
                                               "gen_ai.request.model": attempt.model,
                                               "gen_ai.provider.name": self._provider_of(attempt.model) or "unknown",
                                               "turnout.outcome": attempt.result})
            if attempt.outcome != "ok":
                span.set_attribute("error.type", attempt.result)
                span.set_status(self._error)
            span.end(end_time=end)

    def shutdown(self) -> None:
        """Flush what is queued and stop the exporter (blocking: run it in a thread)."""
        self.provider.shutdown()

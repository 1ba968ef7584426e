"""The tracer provider and its OTLP/HTTP exporter, built once at start when tracing is on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.tracing.policy import TracingPolicy
from gateway.tracing.spans import Tracing

MISSING = ("tracing is configured ({why}) but the OpenTelemetry packages are not installed: "
           "pip install 'turnout[otel]' (opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http)")


class TracingUnavailable(RuntimeError):
    """Tracing is asked for and cannot run: the gateway does not start (a silent gap in traces is worse)."""


def traces_endpoint(policy: TracingPolicy, environ: Mapping[str, str]) -> str | None:
    """Where spans go, or None when tracing is off."""
    if policy.enabled is False:
        return None
    base = policy.endpoint or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base.rstrip("/") + "/v1/traces"
    traces = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    return "http://localhost:4318/v1/traces" if policy.enabled else None


def build_tracing(policy: TracingPolicy, environ: Mapping[str, str],
                  provider_of: Callable[[str], str | None]) -> Tracing | None:
    endpoint = traces_endpoint(policy, environ)
    if endpoint is None:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        why = "policy tracing.enabled" if policy.enabled else "OTEL_EXPORTER_OTLP_ENDPOINT is set"
        raise TracingUnavailable(MISSING.format(why=why)) from exc
    provider: Any = TracerProvider(resource=Resource.create({"service.name": policy.service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return Tracing(provider, capture_content=policy.capture_content, provider_of=provider_of)

"""OpenTelemetry traces of requests, off unless configured (`tracing` in the policy, or
`OTEL_EXPORTER_OTLP_ENDPOINT`). The SDK is imported only when tracing is on.

    policy   the `tracing` policy section
    spans    `Tracing`: a span per request (begun on the request path, ended by the observer) with a
             child span per upstream attempt; `RequestTrace` carries the W3C traceparent upstream
    build    `build_tracing`: the SDK's provider and OTLP/HTTP exporter, or a clear start-up error
"""

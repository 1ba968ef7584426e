"""The `tracing` section of the policy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TracingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool | None = Field(
        None, description="Export OpenTelemetry traces. Unset: on exactly when OTEL_EXPORTER_OTLP_ENDPOINT (or "
                          "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set.")
    endpoint: str | None = Field(
        None, description="OTLP/HTTP base URL (`/v1/traces` is appended); defaults to OTEL_EXPORTER_OTLP_ENDPOINT.")
    service_name: str = Field("turnout", description="The `service.name` resource attribute.")
    capture_content: bool = Field(
        False, description="Put prompts and answers in spans (`gen_ai.input.messages`, `gen_ai.output.messages`). "
                           "Off: spans carry no prompt or answer text.")

"""Simulator configuration: several simulated models per process, each with its own timing and faults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FaultKind = Literal["http_500", "http_503", "rate_limit", "timeout", "reset", "cut_stream", "malformed_chunk",
                    "empty_body", "not_json", "bad_choices", "empty_choices", "reset_mid_body", "cr_line_ends",
                    "oversized_line"]


class Fault(_Frozen):
    """One injectable fault. It fires on a request with probability `rate` (seeded), or on every
    request when `rate` is 1. `after_chunks` is where a stream fault strikes."""

    kind: FaultKind
    rate: float = Field(1.0, ge=0, le=1)
    retry_after_s: float = Field(1.0, ge=0, description="Retry-After for rate_limit.")
    hang_s: float = Field(30.0, ge=0, description="How long a timeout fault stalls.")
    after_chunks: int = Field(2, ge=0, description="Stream chunks sent before a stream fault strikes.")
    line_bytes: int = Field(2 << 20, ge=1, description="Size of the oversized_line event's data line.")


class SimModel(_Frozen):
    name: str
    latency_ms: float = Field(0.0, ge=0, description="Delay before a response or before the first chunk.")
    tokens_per_second: float = Field(0.0, ge=0, description="Stream pacing; 0 sends chunks back to back.")
    faults: tuple[Fault, ...] = ()
    embedding_dims: int = Field(64, gt=0)
    context_window: int = Field(32768, gt=0, description="Prompts over this get a context-length error.")
    min_output_tokens: int = Field(20, ge=1, description="Shortest answer, in words, before max_tokens.")
    max_output_tokens: int = Field(40, ge=1, description="Longest answer, in words, before max_tokens.")


class SimulatorConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(4010, ge=0, le=65535)
    seed: int = 0
    models: tuple[SimModel, ...] = ()

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: tuple[SimModel, ...]) -> tuple[SimModel, ...]:
        names = [m.name for m in models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate simulated model name(s): {', '.join(duplicates)}")
        return models

"""The `protocols` section of the policy: the Anthropic and Responses API edges."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProtocolsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    responses_ttl_s: float = Field(
        3600.0, gt=0, le=30 * 86400,
        description="How long a `/v1/responses` answer is kept for `previous_response_id` (in Redis when the "
                    "policy configures it, else in the process).")

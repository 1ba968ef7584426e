"""The limits part of the policy: per-key and per-tenant quotas, what a spent budget does, and what
happens when Redis cannot be reached. Every field has a default: no limits, fail open.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from registry import Tier

FailMode = Literal["open", "closed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Limits(_Frozen):
    """Quotas of one key or one tenant. `None` means unlimited."""

    requests_per_minute: int | None = Field(None, ge=0, description="Requests admitted per sliding minute.")
    tokens_per_minute: int | None = Field(None, ge=0, description="Prompt + completion tokens per sliding minute.")
    budget_usd_per_day: float | None = Field(None, ge=0, description="Spend per UTC day, from registry prices.")
    budget_usd_per_month: float | None = Field(None, ge=0, description="Spend per UTC calendar month.")


class OnRedisError(_Frozen):
    """Per limit type: `open` serves the request and counts the failure; `closed` answers 503."""

    rate_limits: FailMode = "open"
    budgets: FailMode = "open"


class LimitsPolicy(_Frozen):
    on_budget_exhausted: Literal["downgrade", "refuse"] = Field(
        "refuse", description="`refuse`: 429 insufficient_quota. `downgrade`: serve, capped at `downgrade_to_tier`.")
    downgrade_to_tier: Tier = Field(Tier.SIMPLE, description="The highest tier served once a budget is spent.")
    on_redis_error: OnRedisError = OnRedisError()
    window_seconds: int = Field(60, ge=1, le=3600, description="The rate-limit window (per minute: 60).")

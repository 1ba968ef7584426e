"""The `learning:` section of the policy file: feedback, outcome rows, online routing, calibration, shadows.

Off unless `enabled`. Every field has a default; unknown keys are rejected.

    learning:
      enabled: true
      routes:
        auto:
          calibrate: {strong_share: 0.3, window: 2000}      # or {cost_per_1k_usd: 1.5}
          shadow: {sample: 0.05, judge_model: claude-sim, max_concurrency: 2, budget_usd_per_day: 5}
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Calibration(_Frozen):
    """Keep an alias's threshold on a target over a sliding window of recent scores."""

    strong_share: float | None = Field(
        None, ge=0, le=1, description="Target share of requests sent to the ladder's stronger model.")
    cost_per_1k_usd: float | None = Field(
        None, ge=0, description="Target cost of 1,000 requests (USD), from the two models' observed cost.")
    window: int = Field(2000, ge=20, le=100_000, description="Recent requests the threshold is fitted on.")
    refit_every: int = Field(50, ge=1, description="Refit the threshold after this many new scores.")

    @model_validator(mode="after")
    def _one_target(self) -> Calibration:
        if (self.strong_share is None) == (self.cost_per_1k_usd is None):
            raise ValueError("set exactly one of strong_share and cost_per_1k_usd")
        return self


class Shadow(_Frozen):
    """Judged shadow samples: some answers of the cheaper model are also asked of the stronger one,
    off the response path, and a judge model compares the two (both orders)."""

    sample: float = Field(0.05, ge=0, le=1, description="Share of cheaper-model answers shadowed.")
    judge_model: str = Field(description="Model id of the policy that judges the pair.")
    max_concurrency: int = Field(2, ge=1, le=64, description="Shadow jobs in flight per replica; more are dropped.")
    budget_usd_per_day: float = Field(1.0, ge=0, description="Shadow spend (stronger model + judge) of the route "
                                      "per UTC day, shared by every replica through Redis; past it, no more "
                                      "shadows that day.")
    timeout_s: float = Field(60.0, gt=0, description="A whole shadow job (both calls and the judge).")


class LearningRoute(_Frozen):
    threshold: float = Field(0.5, ge=0, le=1, description="Score above which the stronger model serves, "
                                                          "until calibration fits one.")
    calibrate: Calibration | None = None
    shadow: Shadow | None = None


class LearningPolicy(_Frozen):
    enabled: bool = Field(False, description="Feedback API, outcome rows and online routing on or off.")
    routes: dict[str, LearningRoute] = Field(
        default_factory=dict, description="Aliases that learn; `*` means every alias.")
    context_ttl_s: int = Field(86_400, gt=0, description="How long what a request needs for feedback is kept.")
    keep_prompts: bool = Field(False, description="Also keep the prompt text with the request and its outcome row.")
    max_rows: int = Field(5000, ge=10, le=20_000, description="Outcome rows kept per alias (oldest dropped); "
                          "a lookup scans them all on the event loop (1.2 ms at 20,000).")
    neighbours: int = Field(16, ge=1, le=256, description="Nearest outcome rows that vote.")
    min_similarity: float = Field(0.3, ge=-1, le=1, description="Rows less similar than this do not vote.")
    prior_weight: float = Field(4.0, gt=0, description="Weight of the cold-start score, in rows of evidence, "
                                "until the alias has 20 rows and its own head (which weighs the vote) is fitted.")
    sharpness: float = Field(0.0, ge=0, description="Votes weigh exp(sharpness * (similarity - 1)): 0 is a plain "
                             "vote of the nearest rows; higher favours the nearest.")
    sync_interval_s: float = Field(0.5, gt=0, le=60, description="How often a replica reads new rows from Redis.")
    key_prefix: str = Field("turnout:learn", min_length=1, description="Prefix of every Redis key.")
    feedback_per_minute: int = Field(600, ge=1, description="Feedback calls per tenant and minute, one window "
                                     "shared by every replica through Redis.")

    def route(self, alias: str) -> LearningRoute | None:
        if not self.enabled:
            return None
        return self.routes.get(alias) or self.routes.get("*")

"""Rate limits and budgets shared by every replica through Redis.

`LimitsService.admit(subject, tokens=...)` before a request, `LimitsService.settle(...)` after it.
"""

from gateway.limits.policy import FailMode, Limits, LimitsPolicy, OnRedisError
from gateway.limits.ratelimit import Quota, RateDecision, RateLimiter
from gateway.limits.service import Admission, LimitsService, RateLimitExceeded
from gateway.limits.spend import SpendLedger, Spent
from gateway.limits.subject import Subject

__all__ = ["Admission", "FailMode", "Limits", "LimitsPolicy", "LimitsService", "OnRedisError", "Quota",
           "RateDecision", "RateLimitExceeded", "RateLimiter", "SpendLedger", "Spent", "Subject"]

"""Rate limits and budgets shared by every replica through Redis.

    gateway.limits.service    LimitsService.admit(subject, tokens=...) before a request, .settle(...) after,
                              .report(tenant=...) for GET /admin/spend
    gateway.limits.ratelimit  RateLimiter: the atomic sliding-window check (one Lua call)
    gateway.limits.spend      SpendLedger: USD per key and tenant, per UTC day and month
    gateway.limits.policy     Limits, LimitsPolicy (`auth.limits` in the policy file)

Only the policy models are imported here, so loading the policy does not import Redis.
"""

from gateway.limits.policy import FailMode, Limits, LimitsPolicy, OnRedisError

__all__ = ["FailMode", "Limits", "LimitsPolicy", "OnRedisError"]

"""Retry delays: exponential backoff with jitter, never shorter than the upstream's `Retry-After`."""

from __future__ import annotations

import random

from router.policy import RetryPolicy


def backoff_delay(policy: RetryPolicy, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number `retry` (1 for the first retry) of the same model.

    `base * 2**(retry-1)` capped at `backoff_max_s`; the `jitter` fraction of it is drawn uniformly,
    so `jitter=1` is full jitter and `jitter=0` none. A `Retry-After` is a floor, not a suggestion.
    """
    ceiling = min(policy.backoff_max_s, policy.backoff_base_s * 2.0 ** max(0, retry - 1))
    delay = ceiling * (1 - policy.jitter) + rng.uniform(0, ceiling * policy.jitter)
    return max(delay, retry_after or 0.0)

"""Threshold calibration per alias, live: RouteLLM's `calibrate_threshold` over a sliding window.

An operator states a target, the share of requests sent to the ladder's stronger model or a cost of
1,000 requests; the threshold is the score quantile that sends that share of the recent window up:

    share     = strong_share, or (cost_per_1k / 1000 - cost(cheap)) / (cost(strong) - cost(cheap))
    threshold = quantile(recent scores, 1 - share)

A request's cost per model is estimated from the model's price, the window's mean prompt length
(4 characters a token) and the router's assumed output tokens. Refitted every `refit_every` scores
(a sort of at most `window` floats), so a request costs an append.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from gateway.learning.config import Calibration


@dataclass(frozen=True, slots=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float

    def request(self, prompt_tokens: float, output_tokens: float) -> float:
        return (self.input_per_mtok * prompt_tokens + self.output_per_mtok * output_tokens) / 1e6


class Calibrator:
    def __init__(self, config: Calibration, *, threshold: float, cheap: Price, strong: Price,
                 output_tokens: int) -> None:
        self.config = config
        self.threshold = threshold
        self._cheap, self._strong, self._output = cheap, strong, output_tokens
        self._scores: deque[float] = deque(maxlen=config.window)
        self._chars: deque[int] = deque(maxlen=config.window)
        self._since = 0
        self.strong_share = 0.0
        """Share of the window at or above the current threshold (what the alias does now)."""

    def target_share(self) -> float:
        if self.config.strong_share is not None:
            return self.config.strong_share
        assert self.config.cost_per_1k_usd is not None
        tokens = (sum(self._chars) / len(self._chars) / 4) if self._chars else 100.0
        cheap = self._cheap.request(tokens, self._output)
        strong = self._strong.request(tokens, self._output)
        if strong <= cheap:
            return 1.0
        return float(min(1.0, max(0.0, (self.config.cost_per_1k_usd / 1000 - cheap) / (strong - cheap))))

    def observe(self, score: float, prompt_chars: int) -> None:
        self._scores.append(score)
        self._chars.append(prompt_chars)
        self._since += 1
        if self._since >= self.config.refit_every or len(self._scores) < self.config.refit_every:
            self.refit()

    def refit(self) -> None:
        self._since = 0
        if not self._scores:
            return
        scores = np.fromiter(self._scores, dtype=np.float64, count=len(self._scores))
        share = self.target_share()
        if share <= 0:
            self.threshold = float(np.nextafter(scores.max(), np.inf))
        elif share >= 1:
            self.threshold = float(scores.min())
        else:
            self.threshold = float(np.quantile(scores, 1 - share, method="higher"))
        self.strong_share = float((scores >= self.threshold).mean())

    def report(self) -> dict[str, float | int | None]:
        return {"threshold": round(self.threshold, 4), "strong_share": round(self.strong_share, 4),
                "target_share": round(self.target_share(), 4), "window": len(self._scores),
                "target_cost_per_1k_usd": self.config.cost_per_1k_usd}

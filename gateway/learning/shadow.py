"""Judged shadow samples: for a sampled share of answers from an alias's cheaper model, the stronger
model is asked the same request off the response path, and a judge model of the policy compares the
two answers, once in each order (ties allowed). The verdict becomes an outcome row:

    per order: cheaper better -> (cheap 1, strong 0); stronger better -> (0, 1); tie -> (1, 1)
    outcome = the mean of the two orders          (a judge that always says "A" cancels out)

Never on the client's time: the job starts after the answer is handed back (a streamed one once its
stream completed with [DONE]: never a cut or abandoned one), and runs under bounded concurrency (more
jobs than `max_concurrency` are dropped, not queued), a timeout and a daily budget per route (the
stronger model's and the judge's cost, from their prices), shared by every replica through Redis when
the gateway has one. A job checks the budget before its first call: replicas that start jobs at the
same moment may each spend one job past it, never more.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.learning.config import Shadow
from gateway.learning.rows import RequestContext
from gateway.learning.shared import MemoryTally, SpendTally
from gateway.learning.store import LearningStoreError
from router.errors import TurnoutError
from router.record import RouteRecord
from router.select import pinned

if TYPE_CHECKING:
    from gateway.learning.learner import Learner
    from gateway.runtime import Runtime

JUDGE_PROMPT = """You compare two answers to the same request. Reply with one word: A if answer A is better,
B if answer B is better, tie if they are equally good.

[Request]
{request}

[Answer A]
{a}

[Answer B]
{b}
"""


def _text(result: Mapping[str, Any]) -> str:
    choices = result.get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


def parse_verdict(text: str) -> str:
    """`A`, `B` or `tie` from a judge's reply (anything unclear is a tie)."""
    word = text.strip().strip(".*\"' ").split()[0].lower() if text.strip() else ""
    return {"a": "A", "b": "B"}.get(word, "tie")


class ShadowJudge:
    def __init__(self, learner: Learner, *, tally: SpendTally, rng: random.Random | None = None) -> None:
        self._learner = learner
        self._tally = tally
        self._local_tally = MemoryTally()
        self._rng = rng or random.Random()
        self.in_flight = 0

    def maybe(self, config: Shadow, runtime: Runtime, context: RequestContext, body: Mapping[str, Any],
              answer: Mapping[str, Any]) -> None:
        """Start a shadow job for this answer if it is sampled and allowed (returns at once)."""
        if context.served != context.ladder.cheap or self._rng.random() >= config.sample:
            return
        if self.in_flight >= config.max_concurrency:
            self._learner.counts["shadow", "dropped"] += 1
            return
        self.in_flight += 1
        self._learner.spawn(self._run(config, runtime, context, dict(body), _text(answer)))

    async def _run(self, config: Shadow, runtime: Runtime, context: RequestContext, body: dict[str, Any],
                   cheap_answer: str) -> None:
        try:
            if await self._spent(context.alias, 0.0) >= config.budget_usd_per_day:
                self._learner.counts["shadow", "over_budget"] += 1
                return
            async with asyncio.timeout(config.timeout_s):
                outcomes = await self._judge(config, runtime, context, body, cheap_answer)
            await self._learner.record(context, outcomes, source="shadow")
            self._learner.counts["shadow", "judged"] += 1
        except (TurnoutError, TimeoutError):
            self._learner.counts["shadow", "failed"] += 1
        finally:
            self.in_flight -= 1

    async def _spent(self, alias: str, usd: float) -> float:
        """The route's shadow spend today after adding `usd` (shared; this replica's own if Redis fails)."""
        key = f"{alias}:{time.strftime('%Y-%m-%d', time.gmtime())}"
        try:
            return await self._tally.add(key, usd)
        except LearningStoreError:
            self._learner.counts["store_errors", "budget"] += 1
            return await self._local_tally.add(key, usd)

    async def _call(self, runtime: Runtime, alias: str, model: str, body: dict[str, Any]) -> str:
        route = RouteRecord(pinned(runtime.policy.router, model, policy_version=runtime.version))
        body = {**body, "model": model, "stream": False}
        body.pop("stream_options", None)
        try:
            return _text(await runtime.executor.complete(route.decision, body, route))
        finally:
            spec = runtime.specs.get(model)
            if spec is not None:
                usage = route.usage
                cost = (spec.price.input_per_mtok * usage.get("prompt_tokens", 0)
                        + spec.price.output_per_mtok * usage.get("completion_tokens", 0)) / 1e6
                self._learner.shadow_spend_usd += cost
                await self._spent(alias, cost)

    async def _judge(self, config: Shadow, runtime: Runtime, context: RequestContext, body: dict[str, Any],
                     cheap_answer: str) -> dict[str, float]:
        strong_answer = await self._call(runtime, context.alias, context.ladder.strong, body)
        request = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, Mapping))
        cheap = strong = 0.0
        for a, b, cheap_is_a in ((cheap_answer, strong_answer, True), (strong_answer, cheap_answer, False)):
            prompt = JUDGE_PROMPT.format(request=request, a=a, b=b)
            verdict = parse_verdict(await self._call(runtime, context.alias, config.judge_model, {
                "messages": [{"role": "user", "content": prompt}], "max_tokens": 4, "temperature": 0}))
            if verdict == "tie":
                cheap, strong = cheap + 1, strong + 1
            elif (verdict == "A") == cheap_is_a:
                cheap += 1
            else:
                strong += 1
        return {context.ladder.cheap: cheap / 2, context.ladder.strong: strong / 2}

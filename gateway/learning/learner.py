"""The router that learns from its own traffic: one object per process, built in the lifespan.

    decide   adjust(alias, signals, vector)    cold-start score blended with the nearest outcome rows;
                                               the tier from the (calibrated) threshold on that score
    answer   remember(request id, ...)         what feedback will need, kept off the response path
    client   feedback(tenant, body)            an outcome row, appended to the store
    shadow   record(context, outcomes)         the same, from a judged shadow sample
    always   run()                             every replica reads new rows into its in-memory index

Nothing here fails a chat request: a store error on the request side is counted and dropped.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from embedding import RequestEmbedding
from gateway.errors import StoreUnavailable
from gateway.learning.calibrate import Calibrator, Price
from gateway.learning.config import LearningPolicy, LearningRoute
from gateway.learning.feedback import parse_feedback
from gateway.learning.index import Blend, BlendParams, OutcomeIndex
from gateway.learning.rows import Ladder, OutcomeRow, RequestContext
from gateway.learning.shadow import ShadowJudge
from gateway.learning.shared import FloodGate, MemoryFlood, MemoryTally, SpendTally
from gateway.learning.store import LearningStore, LearningStoreError
from registry import ModelSpec, Tier
from router.errors import ModelNotFound, RequestError
from router.features import Signals
from router.policy import AliasPolicy, RouterPolicy

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger("turnout.learning")


def ladder_of(alias: AliasPolicy) -> Ladder:
    """The alias's cheaper model (first of its lowest tier) and stronger one (first of its highest)."""
    return Ladder(alias.tiers[min(alias.tiers)][0], alias.tiers[max(alias.tiers)][0])


@dataclasses.dataclass(slots=True)
class Decided:
    """What `adjust` worked out for the request in this task, read back by `remember`."""

    alias: str
    ladder: Ladder
    vector: np.ndarray
    blend: Blend
    prompt_chars: int
    text: str


class Learner:
    def __init__(self, *, policy: Callable[[], tuple[LearningPolicy, RouterPolicy, Mapping[str, ModelSpec]]],
                 store: LearningStore, flood: FloodGate | None = None, tally: SpendTally | None = None) -> None:
        """`policy` gives the running policy's sections (read per call: a reload takes effect at once).
        `flood` and `tally` are the feedback limit and shadow budget shared by replicas (in-process when
        None; this replica's own when a shared one fails)."""
        self._policy = policy
        self.store = store
        self.indexes: dict[str, OutcomeIndex] = {}
        self.calibrators: dict[str, tuple[Any, Calibrator]] = {}
        self._cursors: dict[str, str | None] = {}
        self._fitted: dict[str, int] = {}  # alias -> rows its index had added at its head's last refit
        self._decided: contextvars.ContextVar[Decided | None] = contextvars.ContextVar("decided", default=None)
        self._local_flood = MemoryFlood()
        self._flood: FloodGate = flood or self._local_flood
        self._tasks: set[asyncio.Task[None]] = set()
        self._shadow = ShadowJudge(self, tally=tally or MemoryTally())
        self.counts: Counter[tuple[str, str]] = Counter()
        """(event, label) -> count: ("feedback", result), ("rows", source), ("store_errors", op), ..."""
        self.decisions: Counter[tuple[str, str]] = Counter()
        """(alias, "strong" | "cheap") -> decisions the learner made."""
        self.shadow_spend_usd = 0.0
        self.quality: defaultdict[tuple[str, str], float] = defaultdict(float)
        """(alias, "predicted" | "observed" | "n") sums over labelled rows: mean predicted vs observed need."""

    # ------------------------------------------------------------------ decide (hot path, sync, cheap)
    def _route(self, alias: str) -> LearningRoute | None:
        return self._policy()[0].route(alias)

    def adjust(self, name: str, alias: AliasPolicy, signals: Signals, embedding: RequestEmbedding | None) -> Signals:
        """`signals` with the learned score (and the tier it implies) when `name` learns; else as they are."""
        route = self._route(name)
        if route is None or embedding is None:
            return signals
        return self._adjust(name, route, alias, signals, embedding)

    def _adjust(self, name: str, route: LearningRoute, alias: AliasPolicy, signals: Signals,
                embedding: RequestEmbedding) -> Signals:
        vector, prompt_chars = embedding.vector, embedding.prompt_chars
        index = self.indexes.get(name)
        blend = index.blend(vector, signals.score, self._params(), prompt_chars) if index is not None else \
            Blend(signals.score, signals.score, 0.0, 0, None)
        ladder = ladder_of(alias)
        self._decided.set(Decided(name, ladder, vector, blend, prompt_chars, embedding.text))
        calibrator = self._calibrator(name, route, alias)
        if calibrator is not None:
            calibrator.observe(blend.score, prompt_chars)
        elif blend.evidence <= 0 and blend.score == blend.prior:
            return signals  # nothing learned for this prompt and no target: the cold start stands
        threshold = calibrator.threshold if calibrator is not None else route.threshold
        strong = blend.score >= threshold
        self.decisions[name, "strong" if strong else "cheap"] += 1
        tier = Tier(max(alias.tiers)) if strong else Tier(min(alias.tiers))
        return dataclasses.replace(signals, tier=tier, score=blend.score, uncertain=False, probabilities=None)

    def explain(self) -> dict[str, Any] | None:
        """How this task's request was scored: cold start, evidence, votes (None when its alias does not learn)."""
        decided = self._decided.get()
        return decided.blend.to_dict() if decided is not None else None

    def _calibrator(self, name: str, route: LearningRoute, alias: AliasPolicy) -> Calibrator | None:
        if route.calibrate is None:
            self.calibrators.pop(name, None)
            return None
        kept = self.calibrators.get(name)
        if kept is not None and kept[0] is route.calibrate:
            return kept[1]
        _, router, specs = self._policy()
        ladder = ladder_of(alias)

        def price(model: str) -> Price:
            spec = specs.get(model)
            return Price(spec.price.input_per_mtok, spec.price.output_per_mtok) if spec else Price(0.0, 0.0)

        calibrator = Calibrator(route.calibrate, threshold=route.threshold, cheap=price(ladder.cheap),
                                strong=price(ladder.strong), output_tokens=router.assumed_output_tokens)
        self.calibrators[name] = (route.calibrate, calibrator)
        return calibrator

    # ------------------------------------------------------------------ remember (after the answer)
    def remember(self, request_id: str, tenant: str, served: str | None) -> RequestContext | None:
        """Keep what feedback about this request needs; a store failure is counted, never raised."""
        decided = self._decided.get()
        if decided is None:
            return None
        self._decided.set(None)
        learning = self._policy()[0]
        context = RequestContext(tenant=tenant, alias=decided.alias, ladder=decided.ladder, served=served,
                                 vector=decided.vector, prior=decided.blend.prior, score=decided.blend.score,
                                 prompt_chars=decided.prompt_chars,
                                 prompt=decided.text if learning.keep_prompts else None)
        self.spawn(self._put(request_id, context, learning.context_ttl_s))
        return context

    def may_shadow(self, runtime: Runtime, context: RequestContext) -> bool:
        """Whether this request's answer could be judged: its route samples shadows (with a judge the
        policy knows) and the cheaper model of its ladder served it."""
        route = self._route(context.alias)
        return (route is not None and route.shadow is not None and route.shadow.judge_model in runtime.specs
                and context.served == context.ladder.cheap)

    def shadow(self, runtime: Runtime, context: RequestContext, body: Mapping[str, Any],
               answer: Mapping[str, Any]) -> None:
        """Maybe judge this (whole) answer against the stronger model's, off the response path."""
        route = self._route(context.alias)
        if route is not None and route.shadow is not None and self.may_shadow(runtime, context):
            self._shadow.maybe(route.shadow, runtime, context, body, answer)

    async def _put(self, request_id: str, context: RequestContext, ttl_s: int) -> None:
        try:
            await self.store.put_context(request_id, context, ttl_s)
        except LearningStoreError as exc:
            self.counts["store_errors", "context"] += 1
            log.warning("learning store failed keeping request %s: %s", request_id, type(exc).__name__)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ feedback
    async def feedback(self, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
        per_minute = self._policy()[0].feedback_per_minute
        try:
            await self._flood.check(tenant, per_minute)
        except LearningStoreError:  # Redis failed: this replica's own limit, counted
            self.counts["store_errors", "flood"] += 1
            await self._local_flood.check(tenant, per_minute)
        fb = parse_feedback(body)
        try:
            context = await self.store.get_context(tenant, fb.request_id)
            if context is None:
                self.counts["feedback", "unknown"] += 1
                raise ModelNotFound(f"no request {fb.request_id!r} of this tenant to rate (unknown, expired, or "
                                    "not routed by a learning alias)", param="request_id", code="request_not_found")
            outcomes = dict(fb.scores)
            ladder = {context.ladder.cheap, context.ladder.strong, *(m for m in [context.served] if m)}
            for model in outcomes:
                if model not in ladder:
                    raise RequestError(f"model {model!r} is not on this request's ladder ({', '.join(sorted(ladder))})",
                                       param=f"scores.{model}")
            if fb.score is not None:
                if context.served is None:
                    raise RequestError("this request has no served answer to score; use scores", param="score")
                outcomes[context.served] = fb.score
            if not await self.store.claim_feedback(tenant, fb.request_id, self._policy()[0].context_ttl_s):
                self.counts["feedback", "duplicate"] += 1
                return {"object": "feedback", "request_id": fb.request_id, "status": "duplicate"}
            row = OutcomeRow.from_context(context, outcomes, source="feedback")
            await self.store.append(row)
        except LearningStoreError:
            self.counts["store_errors", "feedback"] += 1
            self.counts["feedback", "lost"] += 1
            raise StoreUnavailable("the learning store (Redis) is unreachable: feedback not recorded") from None
        self.counts["feedback", "recorded"] += 1
        return {"object": "feedback", "request_id": fb.request_id, "status": "recorded", "outcomes": outcomes,
                "label": row.label}

    async def record(self, context: RequestContext, outcomes: dict[str, float], *, source: str) -> None:
        """An outcome row from elsewhere (a judged shadow sample)."""
        try:
            await self.store.append(OutcomeRow.from_context(context, outcomes, source=source))
        except LearningStoreError:
            self.counts["store_errors", source] += 1
            return

    # ------------------------------------------------------------------ every replica: sync the rows
    def aliases(self) -> list[str]:
        learning, router, _ = self._policy()
        return [name for name in router.aliases if learning.route(name) is not None]

    async def sync_once(self) -> int:
        learning = self._policy()[0]
        added = 0
        for alias in self.aliases():
            index = self.indexes.get(alias)
            if index is None:
                index = self.indexes[alias] = OutcomeIndex(max_rows=learning.max_rows)
            while True:
                batch = await self.store.rows_since(alias, self._cursors.get(alias), 1000)
                self._cursors[alias] = batch.cursor
                for row in batch.rows:
                    self.counts["rows", row.source] += 1
                    if index.add(row):
                        added += 1
                        self._observe_quality(alias, row)
                if len(batch.rows) < 1000:
                    break
            if index.added != self._fitted.get(alias):
                self._fitted[alias] = index.added
                await asyncio.to_thread(index.refit, self._params())
        return added

    def _params(self) -> BlendParams:
        learning = self._policy()[0]
        return BlendParams(learning.neighbours, learning.min_similarity, learning.prior_weight, learning.sharpness)

    def _observe_quality(self, alias: str, row: OutcomeRow) -> None:
        label = row.label
        if label is None:
            return
        self.quality[alias, "predicted"] += row.predicted
        self.quality[alias, "observed"] += label
        self.quality[alias, "n"] += 1

    async def run(self) -> None:
        while True:
            try:
                await self.sync_once()
            except LearningStoreError:
                self.counts["store_errors", "sync"] += 1
            await asyncio.sleep(self._policy()[0].sync_interval_s)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for alias in self.aliases():
            index = self.indexes.get(alias)
            kept = self.calibrators.get(alias)
            n = self.quality[alias, "n"]
            route = self._route(alias)
            decided = self.decisions[alias, "strong"] + self.decisions[alias, "cheap"]
            head = index.head if index is not None else None
            out[alias] = {"rows": len(index) if index is not None else 0,
                          "head": {"rows": index.fitted_rows if index is not None else 0,
                                   "features": list(head.features) if head is not None else []},
                          "threshold": kept[1].threshold if kept else (route.threshold if route else 0.5),
                          "strong_share": kept[1].strong_share if kept else
                          (self.decisions[alias, "strong"] / decided if decided else 0.0),
                          "calibration": kept[1].report() if kept else None,
                          "predicted_need": self.quality[alias, "predicted"] / n if n else None,
                          "observed_need": self.quality[alias, "observed"] / n if n else None}
        return out

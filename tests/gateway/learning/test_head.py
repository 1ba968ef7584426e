from __future__ import annotations

import time

import numpy as np

from gateway.learning.head import MIN_FIT_ROWS, CrossValidated, Recalibrate, Rows
from gateway.learning.index import BlendParams, OutcomeIndex
from gateway.learning.rows import Ladder, OutcomeRow

LADDER = Ladder("cheap", "strong")


def _row(vector: np.ndarray, needy: bool, *, prior: float = 0.5, chars: int = 100) -> OutcomeRow:
    return OutcomeRow(alias="auto", ladder=LADDER, vector=vector, outcomes={"cheap": 0.0 if needy else 1.0,
                      "strong": 1.0}, prior=prior, predicted=prior, prompt_chars=chars)


def _unit(rng: np.random.Generator, dim: int = 16) -> np.ndarray:
    v = rng.normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_with_no_rows_the_score_is_the_cold_start() -> None:
    index = OutcomeIndex(max_rows=100)
    index.refit(BlendParams())
    assert index.head is None and index.fitted_rows == 0
    assert index.blend(np.ones(4, np.float32), 0.37, BlendParams(), 500).score == 0.37


def test_too_few_rows_fit_no_head() -> None:
    index = OutcomeIndex(max_rows=100)
    rng = np.random.default_rng(0)
    for i in range(MIN_FIT_ROWS - 1):
        index.add(_row(_unit(rng), i % 2 == 0))
    index.refit(BlendParams())
    assert index.head is None and index.prior_of(0.3, 100) == 0.3


def test_a_head_on_rows_where_long_prompts_need_the_strong_model_ranks_a_long_prompt_higher() -> None:
    rng = np.random.default_rng(1)
    index = OutcomeIndex(max_rows=500, head=CrossValidated(sets=(("cold",), ("cold", "length"))))
    for _ in range(200):
        chars = int(rng.integers(20, 5000))
        index.add(_row(_unit(rng), chars > 1000, prior=float(rng.uniform()), chars=chars))
    index.refit(BlendParams())
    assert index.head is not None and index.head.features == ("cold", "length")
    query = _unit(rng)
    long, short = (index.blend(query, 0.5, BlendParams(), chars).score for chars in (4000, 50))
    assert long > short
    assert index.prior_of(0.5, 4000, query) > index.prior_of(0.5, 50, query) + 0.3


def test_the_vote_is_kept_only_when_it_predicts_better_than_the_cold_start() -> None:
    rng = np.random.default_rng(2)
    topics = [_unit(rng) for _ in range(2)]  # topic 0 needs the stronger model, topic 1 does not
    informative = OutcomeIndex(max_rows=500)
    noise = OutcomeIndex(max_rows=500)
    for i in range(200):
        topic = i % 2
        vector = topics[topic] + 0.1 * _unit(rng)
        informative.add(_row(vector, topic == 0))
        noise.add(_row(vector, bool(rng.integers(2)), prior=0.3 + 0.4 * (i % 3 == 0)))
    for index in (informative, noise):
        index.refit(BlendParams())
    assert informative.head is not None and informative.head.features == ("cold", "vote")
    assert informative.blend(topics[0], 0.5, BlendParams()).score > 0.9
    assert informative.blend(topics[1], 0.5, BlendParams()).score < 0.1
    # labels unrelated to the topics: the head keeps the cold start's ranking
    assert noise.head is not None and noise.head.features == ("cold",)
    high, low = (noise.blend(topics[0], cold, BlendParams()).score for cold in (0.8, 0.2))
    assert high != low and (high > low) == (noise.head.w_cold > 0)


def test_recalibrate_blends_the_vote_at_a_fixed_prior_weight() -> None:
    rng = np.random.default_rng(3)
    index = OutcomeIndex(max_rows=100, head=Recalibrate())
    topic = _unit(rng)
    for _ in range(30):
        index.add(_row(topic, True, prior=0.5))
    index.refit(BlendParams())
    assert index.head is not None and not index.head.stacked
    params = BlendParams(prior_weight=4.0)
    blend = index.blend(topic, 0.5, params)
    prior = index.prior_of(0.5, 0, topic)
    assert abs(blend.score - (4.0 * prior + 16.0) / 20.0) < 1e-6


def test_a_refit_is_bounded_by_the_newest_fit_rows() -> None:
    rng = np.random.default_rng(4)
    index = OutcomeIndex(max_rows=5000)
    vectors = rng.normal(size=(5000, 256)).astype(np.float32)
    for i, v in enumerate(vectors):
        index.add(_row(v, i % 3 == 0, prior=float(i % 7) / 7, chars=50 + i))
    started = time.perf_counter()
    index.refit(BlendParams())
    elapsed = time.perf_counter() - started
    assert index.fitted_rows == 2000 and len(index) == 5000
    assert elapsed < 5.0, elapsed


def test_the_cross_validated_fit_is_a_closed_form_on_arrays() -> None:
    rng = np.random.default_rng(5)
    n = 100
    priors = rng.uniform(size=n)
    labels = (priors > 0.5).astype(np.float64)
    rows = Rows(priors, np.log1p(rng.integers(10, 1000, n).astype(np.float64)), np.full(n, 0.5),
                rng.normal(size=(n, 8)).astype(np.float32), labels)
    head = CrossValidated().fit(rows)
    assert head is not None and head.features == ("cold",) and head.w_cold > 0


async def test_a_sync_refits_the_head_and_the_report_shows_it() -> None:
    from gateway.learning.config import LearningPolicy
    from gateway.learning.learner import Learner
    from gateway.learning.store import MemoryStore
    from router.policy import AliasPolicy, RouterPolicy

    learning = LearningPolicy.model_validate({"enabled": True, "routes": {"*": {}}})
    router = RouterPolicy.model_validate({"default_model": "cheap", "aliases": {
        "auto": AliasPolicy.model_validate({"tiers": {1: ["cheap"], 3: ["strong"]}})}})
    store = MemoryStore(max_rows=100)
    learner = Learner(policy=lambda: (learning, router, {}), store=store)
    rng = np.random.default_rng(6)
    for i in range(MIN_FIT_ROWS + 5):
        await store.append(_row(_unit(rng), i % 2 == 0, prior=float(i % 2 == 0)))
    await learner.sync_once()
    head = learner.report()["auto"]["head"]
    assert head["rows"] == MIN_FIT_ROWS + 5 and head["features"][0] == "cold"
    assert learner.indexes["auto"].prior_of(1.0, 100) > learner.indexes["auto"].prior_of(0.0, 100)

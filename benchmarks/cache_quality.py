"""Semantic cache quality on the labelled pairs in ../shared/data/cache: store one side, query the other.

Two set-ups, both through the real `ResponseCache` (in-process store) with the shipped MiniLM:

- pairs: each pair in a partition of its own (as the labels describe): hit rate, precision of hits,
  wrong hits per 1,000 queries, recall (correct hits / labelled duplicates), guard off and on, at
  the shipped default threshold, then a threshold sweep (same rules, computed in numpy);
- shared: every stored question in one partition. A hit on another pair's question cannot be judged
  from the labels (mostly unlabelled duplicates: Quora repeats questions), so it is counted apart.

    .venv/bin/python benchmarks/cache_quality.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cache_data import Matrix, Pairs, data_or_exit, embed_all, gptcache_mock, mrpc, quora
from cache_own_pairs import NEAR_MISSES, PARAPHRASES

from gateway.cache import CachePolicy, CacheRequest, ResponseCache
from gateway.cache.blas import limit_blas_threads
from gateway.cache.config import SemanticPolicy, SemanticRoute
from gateway.cache.guard import guard_rejects
from gateway.cache.store.memory import MemoryStore


class TableEmbedder:
    """Precomputed MiniLM vectors (the model the cache ships with), looked up by text."""

    def __init__(self, texts: Sequence[str], matrix: Matrix) -> None:
        self._rows = dict(zip(texts, matrix, strict=True))

    async def embed(self, texts: Sequence[str]) -> Matrix:
        return np.stack([self._rows[t] for t in texts])


@dataclass(slots=True)
class Score:
    queries: int
    positives: int
    hits: int = 0
    correct: int = 0
    unjudged: int = 0
    """Shared set-up: hits on another pair's question."""

    def row(self, label: str) -> str:
        judged = self.hits - self.unjudged
        wrong = judged - self.correct
        precision = self.correct / judged if judged else float("nan")
        extra = f"   other pairs' questions {1000 * self.unjudged / self.queries:5.1f}/1000" if self.unjudged else ""
        return (f"{label:<22} hit rate {self.hits / self.queries:6.1%}   precision {precision:6.1%}   "
                f"wrong hits/1000 {1000 * wrong / self.queries:5.1f}   recall {self.correct / self.positives:6.1%}"
                + extra)


def _request(text: str, tenant: str) -> CacheRequest:
    return CacheRequest(tenant=tenant, route="auto", body={"messages": [{"role": "user", "content": text}]})


def _answer(index: int) -> dict[str, object]:
    return {"choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": str(index)}}]}


async def through_cache(pairs: Pairs, embedder: TableEmbedder, threshold: float, *, guard: bool,
                        shared: bool) -> Score:
    semantic = SemanticPolicy(routes={"auto": SemanticRoute()}, threshold=threshold,
                              min_threshold=min(threshold, 0.5), guard=guard, max_prompt_chars=100_000)
    cache = ResponseCache(policy=CachePolicy(enabled=True, semantic=semantic, max_entries_per_partition=1_000_000),
                          store=MemoryStore(), embedder=embedder)

    def tenant(i: int) -> str:
        return "all" if shared else f"pair-{i}"

    for i, text in enumerate(pairs.stored):
        await cache.store(await cache.lookup(_request(text, tenant(i))), _answer(i))
    score = Score(len(pairs.queries), sum(pairs.duplicate))
    for i, text in enumerate(pairs.queries):
        got = await cache.lookup(_request(text, tenant(i)))
        if not got.hit or got.response is None:
            continue
        score.hits += 1
        stored = pairs.stored[int(got.response["choices"][0]["message"]["content"])]
        if stored == text or (stored == pairs.stored[i] and pairs.duplicate[i]):
            score.correct += 1
        elif stored != pairs.stored[i]:
            score.unjudged += 1
    return score


def sweep(pairs: Pairs, stored: Matrix, queries: Matrix, thresholds: Sequence[float]) -> None:
    """The pairs set-up for many thresholds: the same rule as the cache (similarity, then guard)."""
    sims = (stored * queries).sum(axis=1)
    rejected = [guard_rejects(q, s) is not None if sim >= min(thresholds) and q != s else False
                for q, s, sim in zip(pairs.queries, pairs.stored, sims, strict=True)]
    labels = np.array(pairs.duplicate)
    print(f"  {'threshold':>9}  {'guard':>5}  {'hit rate':>8}  {'precision':>9}  {'wrong/1000':>10}  {'recall':>7}")
    for threshold in thresholds:
        for guard in (False, True):
            hits = (sims >= threshold) & ~(np.array(rejected) if guard else np.zeros(len(sims), dtype=bool))
            correct = int((hits & labels).sum())
            wrong = int(hits.sum()) - correct
            print(f"  {threshold:9.3f}  {'on' if guard else 'off':>5}  {hits.mean():8.1%}  "
                  f"{correct / max(int(hits.sum()), 1):9.1%}  {1000 * wrong / len(sims):10.1f}  "
                  f"{correct / max(int(labels.sum()), 1):7.1%}")


def follow_ups(threshold: float) -> None:
    """A follow-up asked in another conversation: compared on its text alone vs. partitioned by history."""
    rows = [r for name in ("meancache_contextual_queries.json", "meancache_Synthetic_Dataset_Diverse.json")
            for r in json.loads((data_or_exit() / name).read_text(encoding="utf-8"))]
    vectors = embed_all([r["Follow-Up Query"] for r in rows])
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    cross = int((sims.max(axis=1) >= threshold).sum())
    print(f"\nfollow-ups ({len(rows)} conversations): {cross} would hit another conversation's follow-up if "
          "only their text were compared; with earlier turns hashed into the partition: 0 (by construction)")


async def own_pairs(threshold: float) -> None:
    """Pairs written for Turnout, unseen by any tuning: near misses must miss, paraphrases should hit."""
    from embedding.minilm import MiniLM

    texts = [t for pair in NEAR_MISSES + PARAPHRASES for t in pair]
    embedder = TableEmbedder(texts, MiniLM.load().encode(texts))
    print(f"own pairs (not in any data set), threshold {threshold}:")
    for name, pairs in (("near misses", NEAR_MISSES), ("paraphrases", PARAPHRASES)):
        data = Pairs(name, [a for a, _ in pairs], [b for _, b in pairs], [name == "paraphrases"] * len(pairs))
        for guard in (False, True):
            score = await through_cache(data, embedder, threshold, guard=guard, shared=False)
            print(f"  {name}, guard {'on' if guard else 'off'}: {score.hits} of {len(pairs)} hit")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="Quora only, no sweep")
    args = parser.parse_args()
    limit_blas_threads()
    default = SemanticPolicy().threshold
    await own_pairs(default)
    data_or_exit()
    sets = [quora()] if args.quick else [quora(), mrpc(), gptcache_mock()]
    for pairs in sets:
        vectors = embed_all(pairs.stored + pairs.queries)
        stored, queries = vectors[:len(pairs.stored)], vectors[len(pairs.stored):]
        embedder = TableEmbedder(pairs.stored + pairs.queries, vectors)
        print(f"\n{pairs.name}: {len(pairs.queries)} queries, {sum(pairs.duplicate)} labelled duplicates; "
              f"shipped default threshold {default}")
        for shared in (False, True):
            for guard in (False, True):
                score = await through_cache(pairs, embedder, default, guard=guard, shared=shared)
                label = f"{'shared' if shared else 'pairs'}, guard {'on' if guard else 'off'}"
                print("  " + score.row(label))
        if not args.quick:
            sweep(pairs, stored, queries, (0.85, 0.90, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97))
    if not args.quick:
        follow_ups(default)


if __name__ == "__main__":
    asyncio.run(main())

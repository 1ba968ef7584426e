"""Semantic cache quality on the labelled pairs in ../shared/data/cache: store one side, query the other.

Prints, per data set, at the shipped default threshold with and without the guard: hit rate, precision
of hits, wrong hits per 1,000 queries and recall (correct hits / duplicate pairs), measured through
the real `ResponseCache` (in-process store); then a threshold sweep computed the same way in numpy.
Every stored question shares one partition, so a query may hit any stored entry; a hit is correct
when it returns its own labelled duplicate (or the very same text).

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

from gateway.cache import CachePolicy, CacheRequest, ResponseCache
from gateway.cache.blas import limit_blas_threads
from gateway.cache.config import SemanticPolicy, SemanticRoute
from gateway.cache.guard import guard_rejects
from gateway.cache.store.memory import MemoryStore


class TableEmbedder:
    """Precomputed MiniLM vectors (the same model the cache ships with), looked up by text."""

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

    def row(self, label: str) -> str:
        wrong = self.hits - self.correct
        precision = self.correct / self.hits if self.hits else float("nan")
        return (f"{label:<28} hit rate {self.hits / self.queries:6.1%}   precision {precision:6.1%}   "
                f"wrong hits/1000 {1000 * wrong / self.queries:6.1f}   recall {self.correct / self.positives:6.1%}")


def _request(text: str) -> CacheRequest:
    return CacheRequest(tenant="bench", route="auto", body={"messages": [{"role": "user", "content": text}]})


def _answer(index: int) -> dict[str, object]:
    return {"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                                                                          "content": str(index)}}]}


async def through_cache(pairs: Pairs, embedder: TableEmbedder, threshold: float, guard: bool) -> Score:
    semantic = SemanticPolicy(routes={"auto": SemanticRoute()}, threshold=threshold,
                              min_threshold=min(threshold, 0.5), guard=guard, max_prompt_chars=100_000)
    policy = CachePolicy(semantic=semantic, max_entries_per_partition=1_000_000)
    cache = ResponseCache(policy=policy, store=MemoryStore(), embedder=embedder)
    for i, text in enumerate(pairs.stored):
        await cache.store(await cache.lookup(_request(text)), _answer(i))
    score = Score(len(pairs.queries), sum(pairs.duplicate))
    for i, text in enumerate(pairs.queries):
        got = await cache.lookup(_request(text))
        if got.hit and got.response is not None:
            score.hits += 1
            j = int(got.response["choices"][0]["message"]["content"])
            score.correct += (pairs.duplicate[i] and pairs.stored[j] == pairs.stored[i]) or pairs.stored[j] == text
    return score


def _top(stored: Matrix, queries: Matrix, k: int = 5) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    idx = np.zeros((len(queries), k), dtype=np.int64)
    sims = np.zeros((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), 1024):
        block = queries[start:start + 1024] @ stored.T
        part = np.argpartition(-block, k, axis=1)[:, :k]
        scores = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-scores, axis=1)
        idx[start:start + 1024] = np.take_along_axis(part, order, axis=1)
        sims[start:start + 1024] = np.take_along_axis(scores, order, axis=1)
    return idx, sims


def sweep(pairs: Pairs, stored_vecs: Matrix, query_vecs: Matrix, thresholds: Sequence[float]) -> None:
    first = {t: i for i, t in reversed(list(enumerate(pairs.stored)))}  # one entry per distinct text
    keep = sorted(first.values())
    idx, sims = _top(stored_vecs[keep], query_vecs)
    print(f"  {'threshold':>9}  {'guard':>5}  {'hit rate':>8}  {'precision':>9}  {'wrong/1000':>10}  {'recall':>7}")
    for threshold in thresholds:
        for guard in (False, True):
            score = Score(len(pairs.queries), sum(pairs.duplicate))
            for i, text in enumerate(pairs.queries):
                for j, sim in zip(idx[i], sims[i], strict=True):
                    stored = pairs.stored[keep[j]]
                    if sim < threshold:
                        break
                    if guard and stored != text and guard_rejects(text, stored):
                        continue
                    score.hits += 1
                    score.correct += (pairs.duplicate[i] and stored == pairs.stored[i]) or stored == text
                    break
            precision = score.correct / score.hits if score.hits else float("nan")
            print(f"  {threshold:9.2f}  {'on' if guard else 'off':>5}  {score.hits / score.queries:8.1%}  "
                  f"{precision:9.1%}  {1000 * (score.hits - score.correct) / score.queries:10.1f}  "
                  f"{score.correct / score.positives:7.1%}")


def follow_ups(default: float) -> None:
    """A follow-up asked in another conversation: with partitions by earlier turns vs. without."""
    rows = [r for name in ("meancache_contextual_queries.json", "meancache_Synthetic_Dataset_Diverse.json")
            for r in json.loads((data_or_exit() / name).read_text(encoding="utf-8"))]
    follow = [r["Follow-Up Query"] for r in rows]
    vecs = embed_all(follow)
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -1)
    cross = int((sims.max(axis=1) >= default).sum())
    print(f"\nfollow-ups ({len(rows)} conversations): a follow-up would hit another conversation's follow-up "
          f"{cross} times if only the text were compared; with the history hash in the partition: 0 by design")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="Quora only, no sweep")
    args = parser.parse_args()
    data_or_exit()
    limit_blas_threads()
    default = SemanticPolicy().threshold
    sets = [quora()] if args.quick else [quora(), mrpc(), gptcache_mock()]
    for pairs in sets:
        vectors = embed_all(pairs.stored + pairs.queries)
        stored_vecs, query_vecs = vectors[:len(pairs.stored)], vectors[len(pairs.stored):]
        embedder = TableEmbedder(pairs.stored + pairs.queries, vectors)
        print(f"\n{pairs.name}: {len(pairs.queries)} queries, {sum(pairs.duplicate)} labelled duplicates; "
              f"shipped default threshold {default}")
        for guard in (False, True):
            score = await through_cache(pairs, embedder, default, guard)
            print("  " + score.row(f"through the cache, guard {'on' if guard else 'off'}"))
        if not args.quick:
            sweep(pairs, stored_vecs, query_vecs, (0.80, 0.85, 0.88, 0.90, 0.92, 0.93, 0.95, 0.97))
    if not args.quick:
        follow_ups(default)


if __name__ == "__main__":
    asyncio.run(main())

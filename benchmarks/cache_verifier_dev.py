"""Development of a learned cache verifier, on Quora's EVEN rows only (cross-validated).

The odd rows, MRPC, GPTCache's pairs and our own pairs are never read here: they judge the method
afterwards (`cache_quality.py`). For each feature set: out-of-fold probabilities of "duplicate" from a
logistic regression (5 folds), then the pairs that the shipped pipeline would verify (request
embedding >= candidate, guard passes) are hits at or above a probability threshold; printed: the
best hit rate with at most 7 (the tuning rule) and 10 (the bar) wrong hits per 1,000 queries.

    .venv/bin/python benchmarks/cache_verifier_dev.py [--wrong-hits]

`--wrong-hits` prints instead the pairs labelled distinct that the shipped pipeline (candidate 0.80,
guard, MiniLM >= 0.95) serves, with their row in meancache_val.csv: the pairs judged by hand in
benchmarks/results/cache-verifier-2026-12-07.md (the questions stay in ../shared: research terms).
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import numpy as np
from cache_data import data_or_exit, quora
from cache_quality import CANDIDATES, halves

from embedding import StaticEmbedder
from embedding.minilm import MiniLM, length_groups
from gateway.cache.blas import limit_blas_threads
from gateway.cache.guard import guard_rejects

WORD = re.compile(r"[a-z0-9]+")


def token_states(model: MiniLM, texts: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
    """Last-layer states of each text's real tokens ([CLS] and [SEP] dropped), rows L2-normalised;
    and MiniLM's sentence vectors (the mean over every real token, as `encode`)."""
    from embedding.artifacts import HERE, load_tokenizer

    tok = load_tokenizer(HERE)
    tok.enable_truncation(max_length=256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    out: list[np.ndarray] = [np.zeros((1, 384), np.float32)] * len(texts)
    full = np.zeros((len(texts), 384), np.float32)
    batch = tok.encode_batch([t[:4096] for t in texts])
    ids = np.array([e.ids for e in batch], dtype=np.int64)
    mask = np.array([e.attention_mask for e in batch], dtype=np.float32)
    lengths = mask.sum(axis=1).astype(np.int64)
    started = time.monotonic()
    for n, rows in enumerate(length_groups(lengths)):
        for start in range(0, len(rows), 32):
            part = rows[start:start + 32]
            seq = max(1, int(lengths[part].max()))
            hidden = model.forward(ids[part, :seq], mask[part, :seq])
            for j, r in enumerate(part):
                full[r] = pooled(hidden[j, :lengths[r]])
                h = hidden[j, 1:max(2, lengths[r] - 1)]
                out[r] = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
        if n % 20 == 0:
            print(f"  states: group {n}, {time.monotonic() - started:.0f} s", file=sys.stderr)
    return out, full


def pooled(states: np.ndarray) -> np.ndarray:
    v = states.mean(axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def features(q: str, s: str, sq: np.ndarray, ss: np.ndarray, fq: np.ndarray, fs: np.ndarray) -> list[float]:
    sim = sq @ ss.T
    recall = sim.max(axis=0)   # each stored token's best match in the query
    precision = sim.max(axis=1)
    wq, ws = set(WORD.findall(q.lower())), set(WORD.findall(s.lower()))
    union = wq | ws
    return [float(fq @ fs), float(precision.mean()), float(recall.mean()),
            float(min(precision.min(), recall.min())), float(np.sort(np.concatenate([precision, recall]))[:3].mean()),
            len(wq & ws) / max(len(union), 1), len(wq ^ ws) / max(len(union), 1),
            abs(len(q) - len(s)) / max(len(q), len(s), 1)]




def best(score: np.ndarray, gate: np.ndarray, y: np.ndarray, limit: float) -> tuple[float, float]:
    """The highest hit rate (hits: gate and score >= some threshold) with at most `limit` wrong per 1,000."""
    found = (0.0, 0.0)
    for t in np.unique(score[gate]):
        hits = gate & (score >= t)
        wrong = 1000 * int((hits & ~y).sum()) / len(y)
        if wrong <= limit and hits.mean() > found[0]:
            found = (float(hits.mean()), wrong)
    return found


def out_of_fold(features: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    score = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(features, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
        score[test] = model.fit(features[train], y[train]).decision_function(features[test])
    return score


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wrong-hits", action="store_true", help="list the shipped pipeline's wrong hits")
    args = parser.parse_args()
    limit_blas_threads()
    data_or_exit()
    even, _ = halves(quora())
    static = StaticEmbedder.load()
    model = MiniLM.load()
    texts = sorted(set(even.stored + even.queries))
    where = {t: i for i, t in enumerate(texts)}
    states, full = token_states(model, texts)
    fast = static.encode(texts)
    qi = np.array([where[q] for q in even.queries])
    si = np.array([where[s] for s in even.stored])
    rows = [features(q, s, states[i], states[j], fast[i], fast[j])
            for q, s, i, j in zip(even.queries, even.stored, qi, si, strict=True)]
    minilm = (full[qi] * full[si]).sum(axis=1)
    first = (fast[qi] * fast[si]).sum(axis=1)
    passed = np.array([q == s or guard_rejects(q, s) is None for q, s in zip(even.queries, even.stored, strict=True)])
    y = np.array(even.duplicate)
    if args.wrong_hits:
        wrong = np.flatnonzero((first >= 0.80) & passed & (minilm >= 0.95) & ~y)
        print(f"{len(wrong)} wrong hits; csv row (0-based, header excluded) | MiniLM | query | stored")
        for i in wrong:
            print(f"{2 * i} | {minilm[i]:.3f} | {even.queries[i]} | {even.stored[i]}")
        return
    table = np.column_stack([minilm, np.array(rows)])
    sets = {"MiniLM cosine (shipped)": None, "+ request embedding's cosine": [0, 1],
            "+ word overlap, length": [0, 1, 6, 7, 8], "+ token alignment (BERTScore-like)": [0, 1, 2, 3, 4, 5],
            "all of them": list(range(9)), "MiniLM product q*s + cosine": "product",
            "q*s, |q-s| + cosine": "both"}
    print(f"Quora even rows, {len(y)} pairs; best hit rate with <= 7 / <= 10 wrong hits per 1,000 queries")
    for candidate in CANDIDATES[::2]:
        gate = (first >= candidate) & passed
        print(f"candidate_threshold {candidate}: {gate.mean():.1%} of pairs verified, "
              f"{(gate & y).sum() / y.sum():.1%} of the duplicates among them")
        for name, cols in sets.items():
            for c in ((None,) if cols is None else (0.1, 1.0, 10.0)):
                if cols is None:
                    score = minilm
                elif cols == "product":
                    score = out_of_fold(np.hstack([full[qi] * full[si], minilm[:, None]]), y, c)
                elif cols == "both":
                    score = out_of_fold(np.hstack([full[qi] * full[si], np.abs(full[qi] - full[si]),
                                                   minilm[:, None]]), y, c)
                else:
                    score = out_of_fold(table[:, cols], y, c)
                (h7, w7), (h10, w10) = best(score, gate, y, 7), best(score, gate, y, 10)
                label = name if c is None else f"{name}, C={c}"
                print(f"  {label:<46} {h7:6.1%} ({w7:4.1f})   {h10:6.1%} ({w10:4.1f})")


if __name__ == "__main__":
    main()

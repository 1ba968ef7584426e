"""Offline twin of the replay, for choosing the learner in seconds: the same families, splits, cold
starts and `OutcomeIndex` code as benchmarks/learning_replay.py, without the gateway.

Each prompt is embedded and scored once by the cold start that never saw its family (cached under
the system temp dir); then for each candidate, share and seed the rated rows go into an
`OutcomeIndex` with the candidate's head and blend, and the rest is scored. Only dev seeds (100-102;
103-105 for the third round, 106-108 for the fourth) are for choosing; the reported figures come
from learning_replay.py through the gateway. The score line is the mean margin over the shares from
5% (1% is reported apart).
Run with `.venv/bin/python benchmarks/learning_offline.py [--seeds 100,101,102] [--shares 0.1]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.learning_candidates import Candidate, candidates, ranks, reversal_p  # noqa: E402
from benchmarks.learning_replay import COLD_START, FAMILIES, Family  # noqa: E402
from gateway.learning.apgr import apgr  # noqa: E402
from gateway.learning.index import OutcomeIndex  # noqa: E402
from gateway.learning.rows import Ladder, OutcomeRow  # noqa: E402

LADDER = Ladder("cheap", "strong")


@dataclass(frozen=True, slots=True)
class Features:
    cold: np.ndarray
    vectors: np.ndarray
    chars: np.ndarray


def features(family: Family, vectors: str = "static") -> Features:
    """Cold-start scores and embeddings as the gateway computes them (cached). `vectors="minilm"`: the
    rows' vectors are the full MiniLM's (384-d) instead of the request embedding's; the cold start is
    the same."""
    if vectors == "minilm":
        return _with_minilm(family, features(family))
    cache = Path(tempfile.gettempdir()) / f"turnout-offline-{family.name}-{len(family.prompts)}.npz"
    if cache.exists():
        z = np.load(cache)
        return Features(z["cold"], z["vectors"], z["chars"])
    from classifier.model import Classifier

    path = COLD_START / f"without-{family.name}" / "classifier.npz"
    sha = path.with_name(path.name + ".sha256").read_text().split()[0]
    classifier = Classifier.from_file(path, expected_sha256=sha)
    cold, vectors, chars = [], [], []
    for prompt in family.prompts:
        messages = [{"role": "user", "content": prompt}]
        e = classifier.embed(messages)
        cold.append(classifier.classify(messages, embedding=e).score)
        vectors.append(e.vector)
        chars.append(e.prompt_chars)
    out = Features(np.asarray(cold), np.asarray(vectors, np.float32), np.asarray(chars))
    np.savez(cache, cold=out.cold, vectors=out.vectors, chars=out.chars)
    return out


def _with_minilm(family: Family, base: Features) -> Features:
    cache = Path(tempfile.gettempdir()) / f"turnout-offline-minilm-{family.name}-{len(family.prompts)}.npy"
    if not cache.exists():
        from embedding.minilm import MiniLM

        model = MiniLM.load()
        np.save(cache, np.concatenate([model.encode(family.prompts[i:i + 64])
                                       for i in range(0, len(family.prompts), 64)]))
    return Features(base.cold, np.load(cache), base.chars)


def fitted(family: Family, f: Features, candidate: Candidate, share: float,
           seed: int) -> tuple[OutcomeIndex, np.ndarray]:
    """The candidate's index on the seed's rated share, and the prompts left to score."""
    rated, rest = split(len(family.prompts), share, seed)
    index = OutcomeIndex(max_rows=5000, head=candidate.head())
    for i in rated:
        index.add(OutcomeRow(alias="a", ladder=LADDER, vector=f.vectors[i], prior=float(f.cold[i]),
                             predicted=float(f.cold[i]), prompt_chars=int(f.chars[i]),
                             outcomes={"cheap": family.cheap[i], "strong": family.strong[i]}))
    index.refit(candidate.params)
    return index, rest


def split(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seed's rated prompts (a share of n, at least one) and the rest."""
    order = np.random.default_rng(seed).permutation(n)
    k = max(1, round(share * n))
    return order[:k], order[k:]


def fit_of(family: Family, f: Features, candidate: Candidate, share: float, seed: int) -> str:
    """One fit: its rows, the head kept, the rows' rank correlation between cold start and need (with the
    one-sided p-value of a reversal), and the learned APGR on the rest (the cold start's in brackets)."""
    rated = split(len(family.prompts), share, seed)[0]
    need = np.clip(np.asarray(family.strong)[rated] - np.asarray(family.cheap)[rated], 0.0, 1.0)
    rx, ry = ranks(f.cold[rated]), ranks(need)
    rho = float(np.corrcoef(rx, ry)[0, 1]) if rx.std() > 0 and ry.std() > 0 else 0.0
    r = run(family, f, candidate, share, seed)
    return (f"{rated.size} rows {head_of(family, f, candidate, share, seed)} rho {rho:+.3f} "
            f"p {reversal_p(f.cold[rated], need):.3f} APGR {r['learned']:.3f} ({r['cold']:.3f})")


def head_of(family: Family, f: Features, candidate: Candidate, share: float, seed: int) -> str:
    """What the head kept: its features and the cold start's weight (negative: its ranking reversed)."""
    head = fitted(family, f, candidate, share, seed)[0].head
    return "none" if head is None else f"{'+'.join(head.features)} ({head.w_cold:+.2f})"


def run(family: Family, f: Features, candidate: Candidate, share: float, seed: int) -> dict[str, float]:
    index, rest = fitted(family, f, candidate, share, seed)
    learned = [index.blend(f.vectors[i], float(f.cold[i]), candidate.params, int(f.chars[i])).score for i in rest]
    cheap, strong = np.asarray(family.cheap)[rest], np.asarray(family.strong)[rest]
    return {"learned": apgr(learned, cheap, strong), "cold": apgr(f.cold[rest], cheap, strong),
            "length": apgr(f.chars[rest], cheap, strong)}


def logistic_diagnostic(family: Family, f: Features, share: float, seeds: list[int]) -> str:
    """Not a candidate: a logistic head on (cold start, log chars, whole embedding), standardised, fitted
    to the rated rows (label: the stronger model was needed) and always kept, at three strengths, each
    scored on the remainder (so the best of the three is chosen in hindsight, an optimistic figure)."""
    from sklearn.linear_model import LogisticRegression

    cheap, strong = np.asarray(family.cheap), np.asarray(family.strong)
    x = np.hstack([np.stack([f.cold, np.log1p(f.chars)], axis=1), f.vectors])
    out: list[list[float]] = []
    for seed in seeds:
        rated, rest = split(len(family.prompts), share, seed)
        xs = (x - x[rated].mean(axis=0)) / (x[rated].std(axis=0) + 1e-9)
        y = (strong[rated] - cheap[rated] > 0.5).astype(int)
        if y.min() == y.max():
            continue
        out.append([apgr(LogisticRegression(C=c, max_iter=500).fit(xs[rated], y).decision_function(xs[rest]),
                         cheap[rest], strong[rest]) for c in (0.001, 0.01, 0.1)])
    return f"{family.name} " + "/".join(f"{v:.3f}" for v in np.mean(out, axis=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="crux,math_l5,mmlupro")
    parser.add_argument("--seeds", default="100,101,102")
    parser.add_argument("--shares", default="0.1")
    parser.add_argument("--vectors", choices=("static", "minilm"), default="static",
                        help="the rows' vectors: the request embedding (as served) or the full MiniLM's")
    parser.add_argument("--only", default="", help="run only candidates whose name contains this")
    parser.add_argument("--logistic", action="store_true", help="only the logistic diagnostic (not a candidate)")
    parser.add_argument("--heads", action="store_true", help="print what each candidate's head kept, per seed")
    parser.add_argument("--fits", action="store_true",
                        help="per seed: rows, head kept, rank correlation of cold start and need, learned APGR")
    args = parser.parse_args()
    families = [FAMILIES[name]() for name in args.families.split(",")]
    feats = {fam.name: features(fam, args.vectors) for fam in families}
    seeds = [int(s) for s in args.seeds.split(",")]
    shares = [float(s) for s in args.shares.split(",")]
    if args.logistic:
        for share in shares:
            print(f"logistic diagnostic (C 0.001/0.01/0.1, always kept) {share:4.0%}  "
                  + "  ".join(logistic_diagnostic(fam, feats[fam.name], share, seeds) for fam in families), flush=True)
        return 0
    print(f"seeds {seeds}; per family: mean learned APGR (cold, length); margin = learned - max(cold, length)")
    for candidate in [c for c in candidates() if args.only in c.name]:
        if args.heads or args.fits:
            what, each = ("fit per seed", fit_of) if args.fits else ("head (w_cold) per seed", head_of)
            for share in shares:
                for fam in families:
                    print(f"{candidate.name:34s} {share:4.0%}  {fam.name:8s} {what}: "
                          + "; ".join(each(fam, feats[fam.name], candidate, share, seed) for seed in seeds))
            continue
        started = time.monotonic()
        score = []
        for share in shares:
            cells, margins = [], []
            for fam in families:
                runs = [run(fam, feats[fam.name], candidate, share, seed) for seed in seeds]
                m = {k: float(np.mean([r[k] for r in runs])) for k in ("learned", "cold", "length")}
                margins.append(m["learned"] - max(m["cold"], m["length"]))
                cells.append(f"{fam.name} {m['learned']:.3f} ({m['cold']:.3f}, {m['length']:.3f})")
            print(f"{candidate.name:34s} {share:4.0%}  margin {np.mean(margins):+.4f}  " + "  ".join(cells)
                  + f"  [{time.monotonic() - started:.0f} s]", flush=True)
            score.append(float(np.mean(margins)))
        scored = [m for s, m in zip(shares, score, strict=True) if s >= 0.05]  # 1% is reported apart
        if len(scored) > 1:
            print(f"{candidate.name:34s} score {np.mean(scored):+.4f} (mean margin over the {len(scored)} shares "
                  "from 5%)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

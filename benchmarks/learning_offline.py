"""Offline twin of the replay, for choosing the learner in seconds: the same families, splits, cold
starts and `OutcomeIndex` code as benchmarks/learning_replay.py, without the gateway.

Each prompt is embedded and scored once by the cold start that never saw its family (cached under
the system temp dir); then for each candidate, share and seed the rated rows go into an
`OutcomeIndex` with the candidate's head and blend, and the rest is scored. Only the dev seeds
(100-102) are for choosing; the reported figures come from learning_replay.py through the gateway.
Run with `.venv/bin/python benchmarks/learning_offline.py [--seeds 100,101,102] [--shares 0.1]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.learning_replay import COLD_START, FAMILIES, Family  # noqa: E402
from gateway.learning.apgr import apgr  # noqa: E402
from gateway.learning.head import CrossValidated, HeadFit, Recalibrate  # noqa: E402
from gateway.learning.index import BlendParams, OutcomeIndex  # noqa: E402
from gateway.learning.rows import Ladder, OutcomeRow  # noqa: E402

LADDER = Ladder("cheap", "strong")


@dataclass(frozen=True, slots=True)
class Features:
    cold: np.ndarray
    vectors: np.ndarray
    chars: np.ndarray


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    head: Callable[[], HeadFit]
    params: BlendParams


def features(family: Family) -> Features:
    """Cold-start scores and embeddings as the gateway computes them (cached)."""
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


def run(family: Family, f: Features, candidate: Candidate, share: float, seed: int) -> dict[str, float]:
    n = len(family.prompts)
    order = np.random.default_rng(seed).permutation(n)
    k = max(1, round(share * n))
    rated, rest = order[:k], order[k:]
    index = OutcomeIndex(max_rows=5000, head=candidate.head())
    for i in rated:
        index.add(OutcomeRow(alias="a", ladder=LADDER, vector=f.vectors[i], prior=float(f.cold[i]),
                             predicted=float(f.cold[i]), prompt_chars=int(f.chars[i]),
                             outcomes={"cheap": family.cheap[i], "strong": family.strong[i]}))
    index.refit(candidate.params)
    learned = [index.blend(f.vectors[i], float(f.cold[i]), candidate.params, int(f.chars[i])).score for i in rest]
    cheap, strong = np.asarray(family.cheap)[rest], np.asarray(family.strong)[rest]
    return {"learned": apgr(learned, cheap, strong), "cold": apgr(f.cold[rest], cheap, strong),
            "length": apgr(f.chars[rest], cheap, strong)}


def candidates() -> list[Candidate]:
    """a, b: today's blend (prior weight 4, 64); c: the per-alias cross-validated head, blended with the
    vote at a fixed prior weight (4, 16, 64); c-stacked: the same head with the vote as one more
    feature (its weight fitted by leave-one-out, no fixed prior weight)."""
    cold, length, pcs = ("cold",), ("cold", "length"), ("cold", "length", "pcs")
    out = [Candidate("a today (recalibrate, pw 4)", Recalibrate, BlendParams(prior_weight=4.0)),
           Candidate("b today, pw 64", Recalibrate, BlendParams(prior_weight=64.0))]
    for pw in (4.0, 16.0, 64.0):
        for sets, label in (((cold, length), "prior-only"), ((cold, length, pcs), "prior+pcs")):
            out.append(Candidate(f"c {label}, pw {pw:g}", lambda sets=sets: CrossValidated(sets=sets),
                                 BlendParams(prior_weight=pw)))
    for sets, label in (((cold, ("cold", "vote")), "cold>vote"),
                        ((cold, length, ("cold", "length", "vote")), "cold>length>vote"),
                        ((cold, length, ("cold", "length", "vote"), ("cold", "length", "vote", "pcs")),
                         "cold>length>vote>pcs")):
        out.append(Candidate(f"c-stacked {label}", lambda sets=sets: CrossValidated(sets=sets), BlendParams()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="crux,math_l5,mmlupro")
    parser.add_argument("--seeds", default="100,101,102")
    parser.add_argument("--shares", default="0.1")
    parser.add_argument("--only", default="", help="run only candidates whose name contains this")
    args = parser.parse_args()
    families = [FAMILIES[name]() for name in args.families.split(",")]
    feats = {fam.name: features(fam) for fam in families}
    seeds = [int(s) for s in args.seeds.split(",")]
    shares = [float(s) for s in args.shares.split(",")]
    print(f"seeds {seeds}; per family: mean learned APGR (cold, length); margin = learned - max(cold, length)")
    for candidate in [c for c in candidates() if args.only in c.name]:
        started = time.monotonic()
        for share in shares:
            cells, margins = [], []
            for fam in families:
                runs = [run(fam, feats[fam.name], candidate, share, seed) for seed in seeds]
                m = {k: float(np.mean([r[k] for r in runs])) for k in ("learned", "cold", "length")}
                margins.append(m["learned"] - max(m["cold"], m["length"]))
                cells.append(f"{fam.name} {m['learned']:.3f} ({m['cold']:.3f}, {m['length']:.3f})")
            print(f"{candidate.name:34s} {share:4.0%}  margin {np.mean(margins):+.4f}  " + "  ".join(cells)
                  + f"  [{time.monotonic() - started:.0f} s]", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Semantic route quality: the figures in README.md ("Semantic routes").

    .venv/bin/python benchmarks/route_quality.py

1. Cross-validation on the library alone (never the check set) to choose the threshold: the eight
   routes of `benchmarks/routes/policy-named.yaml`, each library route cut in five folds; a fold's
   examples are held out of training and scored (those of the four library routes no route
   claims should fall back: `none`).
2. The check set (`benchmarks/routes/check.jsonl`, 209 requests written for Turnout, never used to
   train or tune): top-1 for each method, with routes declared by a description and four examples.
3. How many examples a route needs without the library: k own examples per route (drawn from the
   library), centroid vs head, on the check set.
4. Follow-ups (`benchmarks/routes/followups.jsonl`, 16 two-turn conversations written for Turnout):
   the last user message alone, and with the earlier user turn as the prior.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embedding import StaticEmbedder
from gateway.config import load_policy
from router.library import LibraryRoute, load_library
from router.route_eval import evaluate
from router.route_index import build_index, library_vectors
from router.routes import RouteIndex

HERE = Path(__file__).resolve().parent / "routes"


def _with_threshold(index: RouteIndex, threshold: float) -> RouteIndex:
    import dataclasses

    return dataclasses.replace(index, thresholds=np.full_like(index.thresholds, threshold))


def main() -> None:
    enc = StaticEmbedder.load()
    library = load_library()
    rows = [json.loads(line) for line in (HERE / "check.jsonl").read_text().splitlines()]
    x = list(enc.encode([r["text"] for r in rows]))
    y = [r["route"] for r in rows]
    policy = {m: load_policy(HERE / f"policy-{m}.yaml").router.aliases["auto"].routes
              for m in ("named", "auto", "none")}

    print("## 1. library cross-validation (5 folds), top-1 by threshold")
    names = [r.name for r in policy["named"]]
    rng = np.random.default_rng(0)
    folds = {n: rng.permutation(len(library[n].examples)) % 5 for n in library}
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6):
        right = total = 0
        for fold in range(5):
            lib = dict(library)
            held: list[tuple[str, str]] = []
            for n in library:  # held-out examples of the library routes no route claims should fall back
                keep = [e for e, f in zip(library[n].examples, folds[n], strict=True) if f != fold]
                label = n if n in names else "none"
                held += [(e, label) for e, f in zip(library[n].examples, folds[n], strict=True) if f == fold]
                lib[n] = LibraryRoute(n, library[n].description, tuple(keep))
            index, _ = build_index(policy["named"], lib, enc)
            index = _with_threshold(index, threshold)
            c = evaluate(index, list(enc.encode([t for t, _ in held])), [n for _, n in held])
            right += round(c.accuracy * c.total)
            total += c.total
        print(f"threshold {threshold}: top-1 {right / total:.3f} ({total} held-out library examples)")

    print("\n## 2. check set, routes by a description and four examples")
    lv = library_vectors(library, enc)
    for mode in ("named", "auto", "none"):
        index, _ = build_index(policy[mode], library, enc, lv)
        c = evaluate(index, x, y)
        print(f"head, library {mode}: top-1 {c.accuracy:.3f}")
        if mode == "named":
            print(c.render(markdown=True))
    own = {r.name: enc.encode([r.description, *(r.examples or ())]) for r in policy["none"]}
    labels = list(own)
    cent = np.stack([v.mean(axis=0) / np.linalg.norm(v.mean(axis=0)) for v in own.values()])
    pairs = list(zip(x, y, strict=True))
    centroid = np.mean([labels[int((cent @ v).argmax())] == t for v, t in pairs])
    nearest = np.mean([labels[int(np.argmax([(m @ v).max() for m in own.values()]))] == t for v, t in pairs])
    print(f"centroid, own examples (no `none`): top-1 {centroid:.3f}")
    print(f"nearest example, own (no `none`): top-1 {nearest:.3f}")

    print("\n## 3. examples a route needs without the library (k drawn from the library), top-1 on the check set")
    for k in (4, 8, 16, 32):
        vecs = {n: lv[n][1:1 + k] for n in labels}
        cent = np.stack([v.mean(axis=0) / np.linalg.norm(v.mean(axis=0)) for v in vecs.values()])
        acc_c = np.mean([labels[int((cent @ v).argmax())] == t for v, t in zip(x, y, strict=True)])
        from sklearn.linear_model import LogisticRegression

        xs = np.concatenate(list(vecs.values()))
        ys = np.concatenate([[i] * len(v) for i, v in enumerate(vecs.values())])
        head = LogisticRegression(C=4.0, max_iter=500).fit(xs, ys)
        acc_h = np.mean(head.predict(np.stack(x)) == np.array([labels.index(t) for t in y]))
        print(f"k={k:>2}: centroid {acc_c:.3f}, head {acc_h:.3f}")

    print("\n## 4. follow-ups: last message alone vs with the earlier turn as prior")
    index, _ = build_index(policy["named"], library, enc, lv)
    convs = [json.loads(line) for line in (HERE / "followups.jsonl").read_text().splitlines()]
    last = list(enc.encode([c["messages"][-1]["content"] for c in convs]))
    first = list(enc.encode([c["messages"][0]["content"] for c in convs]))
    labels = [c["route"] for c in convs]
    print(f"alone: top-1 {evaluate(index, last, labels).accuracy:.3f}; "
          f"with the prior: top-1 {evaluate(index, last, labels, first).accuracy:.3f} ({len(convs)} conversations)")


if __name__ == "__main__":
    main()

"""Same outputs before and after a performance change: two code trees run over one corpus, compared.

    .venv/bin/python benchmarks/equivalence.py --base /tmp/main-tree [--rows 6000]

Each tree (its `PYTHONPATH` set to it, this venv's packages) writes, for every prompt of the corpus
(committed training prompts, real Quora questions, the route check set, conversations and edge
cases: other scripts, control characters, special-token strings, empty and very long texts): the
request embedding's bytes, the classifier's score, probabilities, tier, task and length prior as
exact reprs, the MiniLM verifier's similarity of neighbouring questions (within float32 rounding:
its batches are grouped by length now) and the cache guard's verdicts. Any difference is printed
and the exit status is 1.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MINILM_TOLERANCE = 2e-6
QUESTIONS = ROOT.parent / "shared" / "data" / "cache" / "meancache_val.csv"


def corpus(rows: int) -> list[list[dict[str, Any]]]:
    from classifier.dataset import read_examples
    from classifier.model import DEFAULT_DATA

    rng = random.Random(0)
    examples = read_examples(DEFAULT_DATA)
    out = [list(e.messages) for e in rng.sample(examples, min(rows, len(examples)))]
    if QUESTIONS.exists():
        with QUESTIONS.open(newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f)):
                if i >= rows // 2:
                    break
                out.append([{"role": "user", "content": row["question1"]}])
    checks = (ROOT / "benchmarks" / "routes" / "check.jsonl").read_text().splitlines()
    out += [[{"role": "user", "content": json.loads(line)["text"]}] for line in checks]
    odd = ["", " ", "hi", "Say hello", "[CLS] what is [SEP] this [MASK]", "tab\there\x0bvertical\x00nul",
           "café crème brûlée", "日本語のテキストを翻訳してください", "x" * 5000, "word " * 2000, "a-b_c.d/e\\f",
           "Prove that the halting problem is undecidable and then write a lock-free queue in Rust"]
    out += [[{"role": "user", "content": t}] for t in odd]
    alphabet = [chr(i) for i in range(128)] + ["é", "日", "\u00a0", "ß", "—"]
    out += [[{"role": "user", "content": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))}]
            for _ in range(500)]
    out.append([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": [{"type": "text", "text": "and a follow-up"}]}])
    return out


def dump(rows: int, path: Path) -> None:
    from classifier.model import load_default
    from embedding import StaticEmbedder, embed_request
    from gateway.cache.guard import guard_rejects

    embedder = StaticEmbedder.load()
    classifier = load_default()
    records = []
    conversations = corpus(rows)
    for messages in conversations:
        e = embed_request(embedder, messages)
        c = classifier.classify(messages, embedding=e)
        records.append({"vector": hashlib.sha256(e.vector.tobytes()).hexdigest(), "chars": e.prompt_chars,
                        "score": repr(c.score), "p": [repr(p) for p in c.probabilities], "tier": int(c.tier),
                        "task": str(c.task), "prior": repr(c.length_prior), "uncertain": c.uncertain})
    texts = [str(m[-1]["content"]) for m in conversations if isinstance(m[-1]["content"], str)]
    pairs = list(zip(texts[::2], texts[1::2], strict=False))[:2000]
    guard = [guard_rejects(a, b) for a, b in pairs]
    minilm: list[float] = []
    if os.environ.get("EQUIVALENCE_MINILM", "1") == "1":
        from embedding.minilm import MiniLM

        encoder = MiniLM.load()
        sample = texts[:96]
        for start in range(0, len(sample), 16):  # batches of mixed lengths, as the verifier sends them
            rows_ = encoder.encode(sample[start:start + 16])
            minilm += [float(x) for x in rows_ @ rows_[0]]
    path.write_text(json.dumps({"records": records, "guard": guard, "minilm": minilm}))


def compare(base: Path, rows: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        outputs = []
        for name, tree in (("base", base), ("this", ROOT)):
            out = Path(tmp) / f"{name}.json"
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            subprocess.run([sys.executable, __file__, "--dump", str(out), "--rows", str(rows)], check=True, env=env,
                           cwd=tmp)
            outputs.append(json.loads(out.read_text()))
    a, b = outputs
    bad = 0
    for i, (x, y) in enumerate(zip(a["records"], b["records"], strict=True)):
        if x != y:
            bad += 1
            if bad <= 5:
                print(f"request {i} differs:\n  base {x}\n  this {y}")
    diff = sum(1 for x, y in zip(a["guard"], b["guard"], strict=True) if x != y)
    bad += diff
    print(f"cache guard verdicts: {len(a['guard'])} compared, {diff} differ")
    gaps = [abs(x - y) for x, y in zip(a["minilm"], b["minilm"], strict=True)]
    bad += sum(1 for g in gaps if g > MINILM_TOLERANCE)
    print(f"MiniLM similarities: {len(gaps)} compared, largest difference {max(gaps, default=0.0):.2g} "
          f"(float32 rounding of a batch grouped by length; tolerance {MINILM_TOLERANCE:g})")
    print(f"requests: {len(a['records'])} compared (embedding, score, probabilities, tier, task, length prior); "
          f"{'all identical' if bad == 0 else f'{bad} differences'}")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="the tree before the change")
    parser.add_argument("--rows", type=int, default=6000, help="training prompts sampled (Quora questions: half)")
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # one tree's outputs (run by `compare`)
    args = parser.parse_args()
    if args.dump is not None:
        dump(args.rows, args.dump)
        return 0
    if args.base is None:
        parser.error("--base is required")
    return compare(args.base, args.rows)


if __name__ == "__main__":
    raise SystemExit(main())

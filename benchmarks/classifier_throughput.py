"""`classify` on a 20,000-line JSONL file (mixed prompts and conversations): prints the wall time.

Run: .venv/bin/python benchmarks/classifier_throughput.py [--lines 20000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from classifier.dataset import read_rows
from classifier.pipeline import DEFAULT_DATA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=20000)
    args = parser.parse_args()
    prompts = [row.get("prompt") or row["messages"][-1]["content"] for _, row in read_rows(DEFAULT_DATA)]
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "prompts.jsonl", Path(tmp) / "scores.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for i in range(args.lines):
                text = prompts[i % len(prompts)]
                messages = [{"role": "system", "content": "Be concise."}, {"role": "user", "content": text}]
                row = {"id": i, "prompt": text} if i % 2 else {"id": i, "messages": messages}
                out.write(json.dumps(row) + "\n")
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "classifier", "classify", "--input", str(source), "--output",
                        str(target)], check=True)
        seconds = time.monotonic() - start
        lines = sum(1 for _ in target.open(encoding="utf-8"))
    print(f"classify: {lines} lines in {seconds:.1f} s (process start included), {lines / seconds:,.0f} lines/s")


if __name__ == "__main__":
    main()

"""What the request embedding costs per request, by prompt size, against MiniLM on the same texts.

    .venv/bin/python benchmarks/embedding_cost.py [--repeat 2000]

Prints p50 / p99 in milliseconds of `embed_request` (tokenize, sum the table's rows, normalise: what
every routed request pays once) and of one MiniLM encode (what a cache verification pays).
"""

from __future__ import annotations

import argparse
import statistics
import time

from embedding import StaticEmbedder, embed_request
from embedding.minilm import MiniLM

SENTENCE = "How do I make my Python HTTP client retry failed requests with exponential backoff and jitter? "
SIZES = {"short (60 chars)": SENTENCE[:60], "medium (~500 chars)": SENTENCE * 5, "long (~5,000 chars)": SENTENCE * 52,
         "huge (1 MB)": SENTENCE * 10_500}


def timed(fn: object, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    static = StaticEmbedder.load()
    minilm = MiniLM.load()
    print("| prompt | request embedding p50 / p99 ms | MiniLM encode p50 / p99 ms |")
    print("|---|---|---|")
    for name, text in SIZES.items():
        messages = [{"role": "user", "content": text}]
        fast = timed(lambda m=messages: embed_request(static, m), args.repeat)  # type: ignore[misc]
        slow = timed(lambda t=text: minilm.encode([t]), max(20, args.repeat // 50))  # type: ignore[misc]
        print(f"| {name} | {fast[0]:.3f} / {fast[1]:.3f} | {slow[0]:.2f} / {slow[1]:.2f} |")


if __name__ == "__main__":
    main()

"""Serve-time cost of `Classifier.classify` given the request embedding of a ~1,000-token conversation
(p50/p99, wall and CPU), and of the score alone.

Run: .venv/bin/python benchmarks/classifier_latency.py [--calls 5000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from classifier.latency import measure, sample_conversation
from classifier.model import load_default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    start = time.perf_counter()
    classifier = load_default()
    print(f"load (verify sha256 + build): {1000 * (time.perf_counter() - start):.1f} ms")
    messages = sample_conversation()
    print(f"conversation: {len(messages)} messages, {sum(len(m['content']) for m in messages)} characters")
    print(measure(classifier, args.calls).describe())
    embedding = classifier.embed(messages)
    timings = []
    for _ in range(args.calls):
        t0 = time.perf_counter_ns()
        classifier.probabilities(embedding)
        timings.append((time.perf_counter_ns() - t0) / 1e6)
    print(f"the score alone (head + calibration, given the embedding): p50 {statistics.median(timings):.4f} ms")
    print(f"result: {classifier.classify(messages)}")


if __name__ == "__main__":
    main()

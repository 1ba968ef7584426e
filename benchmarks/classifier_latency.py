"""Serve-time cost of `Classifier.classify` on a ~1,000-token conversation: prints p50/p99/max.

Run: .venv/bin/python benchmarks/classifier_latency.py [--calls 5000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from classifier.model import load_default

SYSTEM = "You are a careful senior engineer. Answer precisely, cite the code you change, and keep it short."
CODE = '''def merge_intervals(intervals):
    intervals.sort(key=lambda pair: pair[0])
    merged = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
'''
QUESTION = ("The function above is slow on 10^6 intervals and returns wrong results when intervals touch. "
            "Explain why step by step, then rewrite it in Rust with tests, and compare the complexity. ")


def conversation() -> list[dict[str, str]]:
    """System prompt, three earlier turns and a long last turn: about 4,000 characters (~1,000 tokens)."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "I have a scheduling service in Python that merges booking intervals."},
        {"role": "assistant", "content": "Happy to help. Please paste the function and describe the problem."},
        {"role": "user", "content": CODE * 9 + QUESTION * 6},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    start = time.perf_counter()
    classifier = load_default()
    print(f"load (verify sha256 + build): {1000 * (time.perf_counter() - start):.1f} ms")
    messages = conversation()
    chars = sum(len(m["content"]) for m in messages)
    print(f"conversation: {len(messages)} messages, {chars} characters (~{chars // 4} tokens)")
    for _ in range(200):  # warm up
        classifier.classify(messages)
    wall, cpu = [], []
    for _ in range(args.calls):
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        classifier.classify(messages)
        cpu.append((time.thread_time_ns() - c0) / 1e6)
        wall.append((time.perf_counter_ns() - t0) / 1e6)
    for name, timings in (("wall", wall), ("thread CPU", cpu)):
        timings.sort()
        p99 = timings[int(0.99 * len(timings)) - 1]
        print(f"classify x{args.calls} {name}: p50 {statistics.median(timings):.3f} ms, p99 {p99:.3f} ms, "
              f"max {timings[-1]:.3f} ms")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall p99 includes time the OS ran other processes; thread CPU does not)")
    print(f"result: {classifier.classify(messages)}")


if __name__ == "__main__":
    main()

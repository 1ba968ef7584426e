"""Serve-time cost of `Classifier.classify` given the request embedding (the gateway computes it once per
request), on a ~1,000-token conversation; used by train and the benchmark."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

from classifier.model import Classifier

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


def sample_conversation() -> list[dict[str, str]]:
    """System prompt, two earlier turns and a long last turn: about 4,000 characters (~1,000 tokens)."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "I have a scheduling service in Python that merges booking intervals."},
        {"role": "assistant", "content": "Happy to help. Please paste the function and describe the problem."},
        {"role": "user", "content": CODE * 9 + QUESTION * 6},
    ]


@dataclass(frozen=True, slots=True)
class Latency:
    calls: int
    wall_p50_ms: float
    wall_p99_ms: float
    cpu_p50_ms: float
    cpu_p99_ms: float
    load_average: float

    def describe(self) -> str:
        return (f"{self.calls} calls given the request embedding of a ~1,000-token conversation: "
                f"wall p50 {self.wall_p50_ms:.3f} ms, "
                f"p99 {self.wall_p99_ms:.3f} ms; thread CPU p50 {self.cpu_p50_ms:.3f} ms, p99 {self.cpu_p99_ms:.3f} ms "
                f"(load average {self.load_average:.1f} on {os.cpu_count()} cores; wall time includes time the "
                "OS gave to other processes)")


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(0.99 * len(ordered)) - 1)]


def measure(classifier: Classifier, calls: int = 2000) -> Latency:
    messages = sample_conversation()
    embedding = classifier.embed(messages)
    for _ in range(100):
        classifier.classify(messages, embedding=embedding)
    wall, cpu = [], []
    for _ in range(calls):
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        classifier.classify(messages, embedding=embedding)
        cpu.append((time.thread_time_ns() - c0) / 1e6)
        wall.append((time.perf_counter_ns() - t0) / 1e6)
    return Latency(calls=calls, wall_p50_ms=statistics.median(wall), wall_p99_ms=_p99(wall),
                   cpu_p50_ms=statistics.median(cpu), cpu_p99_ms=_p99(cpu), load_average=os.getloadavg()[0])

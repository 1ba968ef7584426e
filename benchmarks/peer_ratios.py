"""The peer bench's ratios over several runs: each run's figures against LiteLLM's in the same run, and
their medians (one run does not decide a bar: LiteLLM's own requests/s move by +-12% between runs).

    .venv/bin/python benchmarks/peer_ratios.py DIR/run1/results.json DIR/run2/results.json ...
    benchmarks/peer_bench.sh with RUNS=3 calls it on its runs

Per run, for every proxy but LiteLLM: +p50, the ms added over the direct call one at a time (0 ms
upstream); rps16/rps64, requests/s at concurrency 16/64; ttfb, the stream's added time to first byte
one at a time (when the run streamed); then each as a ratio to LiteLLM's in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

BASE = "litellm"


def figures(results: dict[str, Any]) -> dict[str, float]:
    cells = {(c["latency_ms"], c["concurrency"]): c["runs"] for c in results["nonstream"]}
    streams = {(c["latency_ms"], c["concurrency"]): c["runs"] for c in results["stream"]}
    one = cells[(0, 1)]
    out: dict[str, float] = {}
    names = [n for n in one if n != "direct"]
    for name in names:
        out[f"{name} +p50"] = one[name]["p50_ms"] - one["direct"]["p50_ms"]
        for conc in (16, 64):
            if (0, conc) in cells:
                out[f"{name} rps{conc}"] = cells[(0, conc)][name]["rps"]
        if (0, 1) in streams:
            first = streams[(0, 1)]
            out[f"{name} ttfb"] = first[name]["ttfb_p50_ms"] - first["direct"]["ttfb_p50_ms"]
    for name in names:
        if name == BASE:
            continue
        out[f"{name} +p50 ratio"] = out[f"{name} +p50"] / out[f"{BASE} +p50"]
        for conc in (16, 64):
            if f"{name} rps{conc}" in out:
                out[f"{name} x{conc}"] = out[f"{name} rps{conc}"] / out[f"{BASE} rps{conc}"]
        if f"{name} ttfb" in out:
            out[f"{name} ttfb ratio"] = out[f"{name} ttfb"] / out[f"{BASE} ttfb"]
    return out


def table(runs: list[tuple[str, dict[str, float]]]) -> str:
    keys = [k for k in runs[0][1] if all(k in f for _, f in runs)]
    lines = ["| figure | " + " | ".join(name for name, _ in runs) + " | median |",
             "|---|" + "---|" * (len(runs) + 1)]
    for key in keys:
        values = [f[key] for _, f in runs]
        fmt = "{:.1f}" if key.split()[-1].startswith(("rps", "x")) else "{:.3f}"
        lines.append(f"| {key} | " + " | ".join(fmt.format(v) for v in values)
                     + f" | {fmt.format(statistics.median(values))} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="results.json of each run")
    args = parser.parse_args()
    runs = [(path.parent.name, figures(json.loads(path.read_text()))) for path in args.results]
    print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

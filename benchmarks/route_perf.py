"""What semantic route matching adds per request beyond the request embedding (README: <= 0.1 ms p50).

    .venv/bin/python benchmarks/route_perf.py

Times `RouteIndex.match` on the check set's vectors with the eight routes of
`benchmarks/routes/policy-named.yaml`: one request at a time, as the gateway does it. A follow-up
also embeds its earlier user turn (the prior): timed separately.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embedding import StaticEmbedder
from gateway.config import load_policy
from gateway.semantic_routes import build_route_indexes

HERE = Path(__file__).resolve().parent / "routes"


def _times(fn, items, repeat: int = 20) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        for item in items:
            started = time.perf_counter()
            fn(item)
            out.append(time.perf_counter() - started)
    return np.array(out) * 1000


def main() -> None:
    enc = StaticEmbedder.load()
    policy = load_policy(HERE / "policy-named.yaml")
    started = time.perf_counter()
    index = build_route_indexes(policy, enc)["auto"]
    build_s = time.perf_counter() - started
    texts = [json.loads(line)["text"] for line in (HERE / "check.jsonl").read_text().splitlines()]
    vectors = list(enc.encode(texts))
    match = _times(index.match, vectors)
    prior = _times(lambda v: index.match(v, v), vectors)
    embed = _times(enc.embed, texts)
    print(f"routes {len(index.names) - 1} (+none), dimension {enc.dimension}; built in {build_s:.2f} s")
    for name, t in (("match", match), ("match with a prior (2 products)", prior), ("embed one earlier turn", embed)):
        print(f"{name:<34} p50 {np.percentile(t, 50):.4f} ms  p99 {np.percentile(t, 99):.4f} ms")


if __name__ == "__main__":
    main()

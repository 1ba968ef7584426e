"""What the gateway adds per request, in process: wall time and CPU of a chat request through the
whole ASGI app (shedder, fast path, service, classifier, router, metrics, the JSON log line) with
an upstream that answers at once, so all that is measured is the gateway's own work.

    .venv/bin/python benchmarks/gateway_overhead.py [--requests 3000]        # this tree
    .venv/bin/python benchmarks/gateway_overhead.py --compare OLD_TREE NEW_TREE [--rounds 6]

`--compare` runs this script against two source trees (e.g. a worktree of main and this branch)
in fresh processes, alternating A, B, A, B, ... to spread machine noise over both, and prints the
median of the rounds for each, and B / A. The log line is written (to /dev/null) by the gateway's
own batching handler, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

import yaml

SCENARIOS = {
    "auto": {"model": "auto", "messages": [{"role": "user", "content": "Write a haiku about {n} trains."}]},
    "auto-stream": {"model": "auto", "stream": True,
                    "messages": [{"role": "user", "content": "Explain {n} railway switches briefly."}]},
    "pinned": {"model": "local-small", "messages": [{"role": "user", "content": "Say hello {n} times."}]},
}


def policy() -> dict[str, Any]:
    def model(mid: str, window: int) -> dict[str, Any]:
        return {"id": mid, "litellm_model": f"openai/{mid}", "api_base": "http://127.0.0.1:9/v1",
                "context_window": window, "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.2}}

    return {"version": "bench-1", "models": [model("local-small", 8192), model("local-medium", 32768)],
            "router": {"default_model": "local-medium",
                       "aliases": {"auto": {"tiers": {1: ["local-small"], 2: ["local-medium"], 3: ["local-medium"]}}}}}


class InstantUpstream:
    """Answers every call at once (a fake at the `Upstream` interface)."""

    async def send(self, request: Any) -> Any:
        from router.upstream.base import UpstreamResponse

        model = request.spec.id
        if request.stream:
            return UpstreamResponse(stream=self._chunks(model))
        return UpstreamResponse(body={
            "id": "c1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "an answer"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})

    @staticmethod
    async def _chunks(model: str) -> AsyncIterator[dict[str, Any]]:
        for delta, finish in (({"role": "assistant", "content": ""}, None), ({"content": "an answer"}, None),
                              ({}, "stop")):
            yield {"id": "c1", "object": "chat.completion.chunk", "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def call(app: Any, body: bytes) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 4000),
             "headers": [(b"host", b"gateway"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())], "app": app, "state": {}}
    sent = False
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never  # the client stays: cancelled when the response is done
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(requests: int, log_to: TextIO, scenarios: list[str]) -> dict[str, dict[str, float]]:
    from gateway.app import create_app
    from gateway.logs import BatchingHandler, JsonFormatter
    from gateway.settings import Settings

    handler = BatchingHandler(log_to, JsonFormatter())
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)
    handler.start()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(yaml.safe_dump(policy(), sort_keys=False))
        app = create_app(Settings(policy_path=path, policy_watch_s=0), upstream=InstantUpstream())
        out: dict[str, dict[str, float]] = {}
        async with app.router.lifespan_context(app):
            for name in scenarios:
                raw = json.dumps(SCENARIOS[name])
                for n in range(200):  # warm: imports, first classifier call, dict sizes
                    assert await call(app, raw.replace("{n}", f"w{n}").encode()) == 200
                times: list[float] = []
                cpu = time.process_time()
                for n in range(requests):
                    body = raw.replace("{n}", str(n)).encode()
                    started = time.perf_counter()
                    assert await call(app, body) == 200
                    times.append((time.perf_counter() - started) * 1e6)
                cpu_us = (time.process_time() - cpu) * 1e6 / requests
                out[name] = {"p50_us": statistics.median(times), "mean_us": statistics.fmean(times),
                             "cpu_us": cpu_us}
    handler.stop()
    return out


def compare(old: Path, new: Path, rounds: int, requests: int, scenarios: list[str]) -> None:
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"A": [], "B": []}
    for i in range(rounds):
        for label, tree in (("A", old), ("B", new)) if i % 2 == 0 else (("B", new), ("A", old)):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run([sys.executable, __file__, "--requests", str(requests), "--json",
                                   "--scenarios", ",".join(scenarios)], cwd=tree,
                                  env=env, capture_output=True, text=True, check=True)
            runs[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"round {i + 1} {label}: " + "  ".join(f"{s} p50 {r['p50_us']:.0f} us cpu {r['cpu_us']:.0f} us"
                                                         for s, r in runs[label][-1].items()), flush=True)
    print(f"\nmedian of {rounds} rounds, {requests} requests per scenario each; A = {old}, B = {new}")
    print(f"{'scenario':<12} {'metric':<8} {'A':>9} {'B':>9} {'B/A':>6}")
    for scenario in scenarios:
        for metric in ("p50_us", "mean_us", "cpu_us"):
            a = statistics.median(r[scenario][metric] for r in runs["A"])
            b = statistics.median(r[scenario][metric] for r in runs["B"])
            print(f"{scenario:<12} {metric:<8} {a:9.1f} {b:9.1f} {b / a:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--json", action="store_true", help="one JSON line of figures (for --compare)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD_TREE", "NEW_TREE"))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"some of {', '.join(SCENARIOS)}")
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s in SCENARIOS]
    if args.compare:
        compare(args.compare[0].resolve(), args.compare[1].resolve(), args.rounds, args.requests, scenarios)
        return
    with open(os.devnull, "w") as devnull:
        figures = asyncio.run(measure(args.requests, devnull, scenarios))
    if args.json:
        print(json.dumps(figures))
        return
    for name, r in figures.items():
        print(f"{name:<12} p50 {r['p50_us']:7.1f} us  mean {r['mean_us']:7.1f} us  cpu {r['cpu_us']:7.1f} us/request")


if __name__ == "__main__":
    main()

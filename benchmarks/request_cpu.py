"""The gateway's CPU per request, A/B: two gateways (two code trees) side by side, interleaved blocks.

    .venv/bin/python benchmarks/request_cpu.py --a /tmp/perf-base --b . [--blocks 6] [--requests 300]

Each tree's `turnout serve` runs as its own process with this venv's packages (its `PYTHONPATH` is the
tree), against one 0 ms mock upstream and the real Redis. Blocks of requests go to A, then B, then A...
and each block's cost is the gateway process's own CPU time (utime + stime from /proc, so the load
other processes put on the machine does not count) divided by its requests. Paths:

- `auto`: the peer bench's request ("Say hello" to the routed alias `mock-0ms`), one at a time: key
  check, rate limit in Redis, the request embedding, the learned router, selection, the exact-cache
  lookup (a miss: this path's policy stores nothing, as the peer bench's), the call, metrics and the
  decision log.
- `semantic`: distinct real questions (Quora's, `../shared/data/cache`) to an alias with semantic
  caching on and storing, 16 at a time: the embedding, the scan, the guard and MiniLM verifying
  the near duplicates. Both gateways get the same questions in the same order.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
MOCK = ROOT.parent / "shared" / "bench" / "mock_upstream.py"
QUESTIONS = ROOT.parent / "shared" / "data" / "cache" / "meancache_val.csv"
KEY = "sk-bench-0123456789abcdef0123456789abcdef"
POLICY = """
version: request-cpu-1
redis: {{url_env: TURNOUT_REDIS_URL, timeout_s: {redis_s}}}
models:
  - id: upstream-0ms
    litellm_model: openai/mock-0ms
    api_base: http://127.0.0.1:{mock}/v1
    price: {{input_per_mtok: 0.1, output_per_mtok: 0.2}}
    max_concurrency: 1024
router:
  default_model: upstream-0ms
  aliases:
    mock-0ms: {{tiers: {{1: [upstream-0ms], 2: [upstream-0ms], 3: [upstream-0ms]}}}}
    semantic-0ms: {{tiers: {{1: [upstream-0ms], 2: [upstream-0ms], 3: [upstream-0ms]}}}}
auth:
  keys: [{{id: bench, tenant: bench-{run}, key_env: PROXY_KEY, limits: {{requests_per_minute: 10000000}}}}]
cache:
  enabled: true
  store: {store}
  key_prefix: cpu-bench-{run}
  lookup_timeout_ms: {wait_ms}
  write_timeout_ms: {wait_ms}
  semantic: {{routes: {{semantic-0ms: {{}}}}, embed_timeout_ms: {wait_ms}}}
"""
SLOW = {"redis_s": 10, "wait_ms": 60_000}
"""Timeouts for a gateway under valgrind (50x slower), so nothing times out that would not otherwise."""
FAST = {"redis_s": 0.25, "wait_ms": 1000}
"""The defaults' timeouts (the cache's Redis lookup waits 50 ms by default: 1,000 here, on a busy box)."""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def questions() -> list[str]:
    import csv

    with QUESTIONS.open(newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        return list(dict.fromkeys(q for row in rows for q in (row["question1"], row["question2"])))


class Gateway:
    def __init__(self, name: str, tree: Path, port: int, policy: Path, log: Path) -> None:
        self.name, self.port = name, port
        env = {**os.environ, "PROXY_KEY": KEY, "PYTHONPATH": str(tree.resolve()),
               "TURNOUT_REDIS_URL": os.environ.get("TURNOUT_REDIS_URL", "redis://127.0.0.1:6379/0")}
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())", "serve",
                 "--policy", str(policy), "--port", str(port)], stdout=out, stderr=out, env=env,
                cwd=str(tree.resolve()))
        self.url = f"http://127.0.0.1:{port}/v1/chat/completions"


async def wait_ready(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"gateway on :{port} never became ready")


async def post(session: aiohttp.ClientSession, url: str, model: str, text: str) -> str:
    payload = orjson.dumps({"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 16,
                            "temperature": 0})
    async with session.post(url, data=payload, headers={"authorization": f"Bearer {KEY}",
                                                        "content-type": "application/json"}) as r:
        await r.read()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status} from {url}")
        return r.headers.get("x-turnout-cache", "")


async def block(session: aiohttp.ClientSession, gw: Gateway, texts: list[str], model: str, conc: int
                ) -> tuple[float, float, dict[str, int]]:
    """(CPU ms per request, wall ms per request, cache statuses) of one block."""
    statuses: dict[str, int] = {}
    queue = list(reversed(texts))

    async def worker() -> None:
        while queue:
            status = await post(session, gw.url, model, queue.pop())
            key = status.split(";")[0]
            statuses[key] = statuses.get(key, 0) + 1

    cpu0, wall0 = cpu_seconds(gw.process.pid), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    wall, cpu = time.perf_counter() - wall0, cpu_seconds(gw.process.pid) - cpu0
    return cpu * 1000 / len(texts), wall * 1000 / len(texts), statuses


async def run(args: argparse.Namespace, gateways: list[Gateway]) -> None:
    for gw in gateways:
        await wait_ready(gw.port)
    semantic = args.path == "semantic"
    pool = questions() if semantic else []
    model, conc = ("semantic-0ms", 16) if semantic else ("mock-0ms", 1)
    cpu: dict[str, list[float]] = {g.name: [] for g in gateways}
    wall: dict[str, list[float]] = {g.name: [] for g in gateways}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        for gw in gateways:  # warm up: imports, first model loads, connection pools
            await block(session, gw, ["Say hello"] * 50, "mock-0ms", 1)
            if semantic:
                await block(session, gw, [f"warm-up question {i} about {gw.name}?" for i in range(50)], model, 16)
        for b in range(args.blocks):
            texts = pool[b * args.requests:(b + 1) * args.requests] if semantic else ["Say hello"] * args.requests
            order = gateways if b % 2 == 0 else list(reversed(gateways))
            for gw in order:
                c, w, statuses = await block(session, gw, texts, model, conc)
                cpu[gw.name].append(c)
                wall[gw.name].append(w)
                print(f"block {b} {gw.name}: {c:.3f} ms CPU/request, {w:.3f} ms wall/request, {statuses}",
                      flush=True)
    print(f"\npath {args.path}, {args.blocks} blocks of {args.requests} requests, concurrency {conc}")
    for gw in gateways:
        print(f"{gw.name}: CPU/request median {statistics.median(cpu[gw.name]):.3f} ms "
              f"(min {min(cpu[gw.name]):.3f}, max {max(cpu[gw.name]):.3f}); wall/request median "
              f"{statistics.median(wall[gw.name]):.3f} ms; requests/s of CPU "
              f"{1000 / statistics.median(cpu[gw.name]):.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="the baseline tree (e.g. main's, exported)")
    parser.add_argument("--b", type=Path, default=ROOT, help="the tree under test")
    parser.add_argument("--path", choices=("auto", "semantic"), default="auto")
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--port", type=int, default=4120)
    parser.add_argument("--mock-port", type=int, default=18020)
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        mock = subprocess.Popen([sys.executable, str(MOCK), "--port", str(args.mock_port), "--latency-ms", "0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        gateways = []
        for i, (name, tree) in enumerate((("A", args.a), ("B", args.b))):
            policy = Path(tmp) / f"{name}.yaml"  # a cache of its own: the two never see each other's entries
            policy.write_text(POLICY.format(mock=args.mock_port, run=f"{run_id}-{name}",
                                             store=str(args.path == "semantic").lower(), **FAST))
            gateways.append(Gateway(name, tree, args.port + i, policy, Path(tmp) / f"{name}.log"))
        try:
            asyncio.run(run(args, gateways))
        finally:
            for proc in [g.process for g in gateways] + [mock]:
                proc.terminate()
                proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

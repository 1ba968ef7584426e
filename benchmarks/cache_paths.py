"""Cache paths through a real gateway: exact hit, exact-only miss, semantic miss and hit, and
semantic lookups under concurrency. Starts the 0 ms mock upstream and a Turnout of its own.

    .venv/bin/python benchmarks/cache_paths.py [--requests 300] [--duration 10] [--port 4110]

Gateway time is read from the decision log (`latency_ms` of each request, taken inside the
gateway); client time includes the HTTP round trip on loopback. The added cost of a semantic
lookup is its miss latency minus the exact-only miss latency, both one request at a time: against
an alias (whose request embedding the router computes anyway) and against a model id (no
embedding at all, so the embedding's cost is counted in).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
MOCK = ROOT.parent / "shared" / "bench" / "mock_upstream.py"
KEY = "sk-bench-0123456789abcdef0123456789abcdef"
POLICY = """
version: cache-paths-1
redis: {{url_env: TURNOUT_REDIS_URL}}
models:
  - id: upstream-0ms
    litellm_model: openai/mock-0ms
    api_base: http://127.0.0.1:{mock}/v1
    max_concurrency: 1024
router:
  default_model: upstream-0ms
  aliases:
    exact-0ms: {{tiers: {{1: [upstream-0ms], 2: [upstream-0ms], 3: [upstream-0ms]}}}}
    semantic-0ms: {{tiers: {{1: [upstream-0ms], 2: [upstream-0ms], 3: [upstream-0ms]}}}}
auth:
  keys: [{{id: bench, tenant: bench-{run}, key_env: PROXY_KEY}}]
cache:
  enabled: true
  key_prefix: bench-cache-{run}
  semantic: {{routes: {{semantic-0ms: {{}}}}}}
"""
QUESTIONS = ROOT.parent / "shared" / "data" / "cache" / "meancache_val.csv"
TOPICS = ["retries with backoff", "a Redis connection pool", "TLS certificates", "a Kafka consumer group",
          "gzip compression", "a Postgres index", "JSON schema validation", "a rate limiter"]


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def body(model: str, text: str) -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 16,
                         "temperature": 0})


async def post(session: aiohttp.ClientSession, url: str, payload: bytes) -> tuple[float, str, str]:
    started = time.perf_counter()
    async with session.post(url, data=payload, headers={"authorization": f"Bearer {KEY}",
                                                        "content-type": "application/json"}) as r:
        await r.read()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}")
        return (time.perf_counter() - started) * 1000, r.headers.get("x-turnout-cache", ""), \
            r.headers.get("x-request-id", "")


def gateway_ms(log: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in log.read_text().splitlines():
        if '"msg":"request"' in line:
            rec: dict[str, Any] = orjson.loads(line)
            out[rec["request_id"]] = float(rec["latency_ms"])
    return out


def warnings(log: Path) -> list[str]:
    """The gateway's warning and error lines (a cache that bypassed itself says why)."""
    return [line for line in log.read_text().splitlines()
            if '"level":"warning"' in line or '"level":"error"' in line or "Traceback" in line]


async def one_at_a_time(session: aiohttp.ClientSession, url: str, payloads: list[bytes],
                        expect: str) -> tuple[list[float], list[str]]:
    """Times of the requests that got `expect` (real questions may hit now and then: those are left out)."""
    times, ids = [], []
    for payload in payloads:
        ms, status, rid = await post(session, url, payload)
        if status.startswith(expect):
            times.append(ms)
            ids.append(rid)
        elif expect != "miss" or not status.startswith("hit-semantic"):
            raise RuntimeError(f"expected a {expect}, got {status!r}")
    return times, ids


def real_questions() -> list[str]:
    """Distinct real questions (Quora's, from ../shared) as semantic-miss traffic: unrelated prompts
    mostly, with the near duplicates real traffic has (those go to the verifier); else a template."""
    if not QUESTIONS.exists():
        return [f"How do I tune {TOPICS[i % 8]} for service {i}-{uuid.uuid4().hex[:6]}?" for i in range(20_000)]
    import csv

    with QUESTIONS.open(newline="", encoding="utf-8") as f:
        return list(dict.fromkeys(row["question1"] for row in csv.DictReader(f)))


async def concurrent(session: aiohttp.ClientSession, url: str, model: str, conc: int, seconds: float,
                     questions: list[str], statuses: dict[str, int]) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        while time.perf_counter() < stop and questions:
            _, status, _ = await post(session, url, body(model, questions.pop()))
            key = f"c{conc} {status.split(';')[0]}"
            statuses[key] = statuses.get(key, 0) + 1
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(conc)))
    return done / (time.perf_counter() - started)


async def measure(port: int, n: int, seconds: float, log: Path) -> None:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        def unique(model: str, k: int, tag: str) -> list[bytes]:
            return [body(model, f"How do I tune {TOPICS[i % 8]} for the {tag} service number {i}?") for i in range(k)]

        await one_at_a_time(session, url, unique("semantic-0ms", 30, "warm"), "miss")  # loads MiniLM paths
        await post(session, url, body("exact-0ms", "What is a turnout on a railway?"))
        rows: list[tuple[str, list[float], list[str]]] = []
        hit = [body("exact-0ms", "What is a turnout on a railway?")] * n
        rows.append(("exact hit", *await one_at_a_time(session, url, hit, "hit-exact")))
        rows.append(("exact-only miss (upstream 0 ms)",
                     *await one_at_a_time(session, url, unique("exact-0ms", n, "e"), "miss")))
        rows.append(("exact-only miss, model id (no embedding)",
                     *await one_at_a_time(session, url, unique("upstream-0ms", n, "m"), "miss")))
        questions = real_questions()
        misses = [body("semantic-0ms", q) for q in questions[:n]]
        del questions[:n]
        rows.append(("semantic miss (embed + scan, upstream 0 ms)",
                     *await one_at_a_time(session, url, misses, "miss")))
        stored = "How can I make my Python HTTP client retry with exponential backoff?"
        await post(session, url, body("semantic-0ms", stored))
        para = [body("semantic-0ms", stored.replace("with", "using"))] * n
        rows.append(("semantic hit (paraphrase)", *await one_at_a_time(session, url, para, "hit-semantic")))
        statuses: dict[str, int] = {}  # a bypass under load is a cache that saw a Redis error or timeout
        rps = {c: await concurrent(session, url, "semantic-0ms", c, seconds, questions, statuses) for c in (1, 16)}
    await asyncio.sleep(0.3)  # the log writer flushes every 50 ms
    gw = gateway_ms(log)
    for line in warnings(log):
        print("gateway log:", line[:400])
    print("| path | client p50 ms | client p99 ms | gateway p50 ms | gateway p99 ms |")
    print("|---|---|---|---|---|")
    p50: dict[str, float] = {}
    for name, times, ids in rows:
        inside = [gw[i] for i in ids if i in gw]
        p50[name] = pct(inside, 0.5)
        print(f"| {name} | {pct(times, 0.5):.2f} | {pct(times, 0.99):.2f} | {pct(inside, 0.5):.2f} | "
              f"{pct(inside, 0.99):.2f} |")
    semantic = p50["semantic miss (embed + scan, upstream 0 ms)"]
    added = semantic - p50["exact-only miss (upstream 0 ms)"]
    with_embedding = semantic - p50["exact-only miss, model id (no embedding)"]
    print(f"\nsemantic lookup adds {added:.2f} ms at p50 over an alias's exact-only miss, {with_embedding:.2f} ms "
          f"over a model id's (embedding included) (gateway time, one at a time; target <= 3 ms); "
          f"exact hit p50 {p50['exact hit']:.2f} ms of gateway time (target < 1 ms)")
    print(f"semantic misses under load (unique prompts): {rps[1]:.0f} req/s at concurrency 1, {rps[16]:.0f} req/s "
          f"at concurrency 16 (target >= 300); cache statuses {dict(sorted(statuses.items()))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=4110)
    parser.add_argument("--mock-port", type=int, default=18010)
    args = parser.parse_args()
    if not MOCK.exists():
        print(f"no mock upstream at {MOCK} (it lives in ../shared/bench)")
        return 2
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        policy, log = Path(tmp) / "policy.yaml", Path(tmp) / "turnout.log"
        policy.write_text(POLICY.format(mock=args.mock_port, run=run))
        env = {**os.environ, "PROXY_KEY": KEY,
               "TURNOUT_REDIS_URL": os.environ.get("TURNOUT_REDIS_URL", "redis://127.0.0.1:6379/0")}
        mock = subprocess.Popen([sys.executable, str(MOCK), "--port", str(args.mock_port), "--latency-ms", "0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with log.open("w") as out:
            gw = subprocess.Popen([str(Path(sys.executable).parent / "turnout"), "serve", "--policy", str(policy),
                                   "--port", str(args.port)], stdout=out, stderr=out, env=env)
        try:
            asyncio.run(wait_ready(args.port))
            asyncio.run(measure(args.port, args.requests, args.duration, log))
        finally:
            for proc in (gw, mock):
                proc.terminate()
                proc.wait(timeout=15)
            cleanup(env["TURNOUT_REDIS_URL"], f"bench-cache-{run}:*")
    return 0


def cleanup(url: str, pattern: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)
    client.close()


async def wait_ready(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the gateway did not become ready")


if __name__ == "__main__":
    raise SystemExit(main())

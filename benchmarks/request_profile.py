"""One gateway in this process, requests sent straight to its ASGI app: CPU per request and where it goes.

    .venv/bin/python benchmarks/request_profile.py [--path auto|semantic] [--requests 2000] [--profile]
    valgrind --tool=callgrind --instr-atstart=no .venv/bin/python benchmarks/request_profile.py --callgrind ...

No HTTP server and no client sockets: what is measured is the gateway's own request path (the fast
path's ASGI handler, access, the embedding, routing, the cache, the upstream call over aiohttp to
the 0 ms mock, metrics and the decision log), as process CPU time (`time.process_time`), so other
processes' load does not count. `--profile` prints cProfile's top functions by own time. Under
callgrind with `--callgrind`, only the measured requests are counted: instructions per request, a
figure that does not move with the machine's load (`PYTHONPATH=<tree>` measures another tree's code
with this script). Paths as in
`benchmarks/request_cpu.py` (`auto`: the peer bench's "Say hello" to a routed alias, storing
nothing; `semantic`: distinct real questions to an alias with semantic caching on and storing).
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
from pathlib import Path
from typing import Any

import orjson

# beside this file; the gateway's packages come from PYTHONPATH (another tree) or the venv
from request_cpu import FAST, KEY, MOCK, POLICY, SLOW, questions


async def call(app: Any, payload: bytes) -> tuple[int, bytes, dict[bytes, bytes]]:
    """One POST /v1/chat/completions through the ASGI app: (status, body, headers)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 4000),
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {KEY}".encode()),
                         (b"content-length", str(len(payload)).encode())]}
    sent = False
    never = asyncio.Event()
    status, chunks, headers = 0, [], {}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks), headers


def callgrind(state: str) -> None:
    """Instrumentation on or off (blocks the loop for a moment: outside the measured requests)."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def payload(model: str, text: str) -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 16,
                         "temperature": 0})


async def drive(app: Any, texts: list[str], model: str, conc: int) -> dict[str, int]:
    statuses: dict[str, int] = {}
    queue = list(reversed(texts))

    async def worker() -> None:
        while queue:
            status, body, headers = await call(app, payload(model, queue.pop()))
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
            key = headers.get(b"x-turnout-cache", b"").decode().split(";")[0]
            statuses[key] = statuses.get(key, 0) + 1

    await asyncio.gather(*(worker() for _ in range(conc)))
    return statuses


async def run(args: argparse.Namespace, policy: Path) -> None:
    from gateway.app import create_app
    from gateway.settings import Settings

    env = {**os.environ, "PROXY_KEY": KEY,
           "TURNOUT_REDIS_URL": os.environ.get("TURNOUT_REDIS_URL", "redis://127.0.0.1:6379/0")}
    app = create_app(Settings(policy_path=policy, policy_watch_s=0, environ=env))
    semantic = args.path == "semantic"
    model, conc = ("semantic-0ms", args.concurrency or 16) if semantic else ("mock-0ms", args.concurrency or 1)
    texts = questions()[args.skip:args.skip + args.requests] if semantic else [args.text] * args.requests
    async with app.router.lifespan_context(app):
        await drive(app, ["Say hello"] * 50, "mock-0ms", 1)
        if semantic:
            await drive(app, [f"warm-up question {i}?" for i in range(50)], model, conc)
        if args.callgrind:  # count instructions from here on (the process runs under --instr-atstart=no)
            callgrind("on")
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        times0, wall0, loop0 = os.times(), time.perf_counter(), time.thread_time()
        statuses = await drive(app, texts, model, conc)
        times1, wall = os.times(), time.perf_counter() - wall0
        loop_cpu = time.thread_time() - loop0  # the event loop's thread: what bounds requests per second
        user, system = times1.user - times0.user, times1.system - times0.system
        cpu = user + system
        if args.callgrind:
            callgrind("off")
        cache = app.state.holder.current.cache
        stats = cache.stats.as_dict() if cache is not None else {}
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    print(f"path {args.path}: {len(texts)} requests, {cpu * 1000 / max(1, len(texts)):.3f} ms CPU/request, "
          f"({user * 1000 / max(1, len(texts)):.3f} user + {system * 1000 / max(1, len(texts)):.3f} system), "
          f"{wall * 1000 / max(1, len(texts)):.3f} ms wall/request, "
          f"event loop {loop_cpu * 1000 / max(1, len(texts)):.3f} ms CPU/request, {statuses}")
    if semantic:  # counted since start-up (the warm-up's 50 questions included)
        print({k: v for k, v in stats.items() if v})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", choices=("auto", "semantic"), default="auto")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--text", default="Say hello", help="auto: the prompt (default: the peer bench's)")
    parser.add_argument("--concurrency", type=int, default=0, help="default: 16 (semantic), 1 (auto)")
    parser.add_argument("--skip", type=int, default=0, help="semantic: start this far into the questions")
    parser.add_argument("--mock-port", type=int, default=18030)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--callgrind", action="store_true",
                        help="under `valgrind --tool=callgrind --instr-atstart=no`: count the requests only")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY.format(mock=args.mock_port, run=run_id, store=str(args.path == "semantic").lower(),
                                        **(SLOW if args.callgrind else FAST)))
        mock = subprocess.Popen([sys.executable, str(MOCK), "--port", str(args.mock_port), "--latency-ms", "0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            asyncio.run(run(args, policy))
        finally:
            mock.terminate()
            mock.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

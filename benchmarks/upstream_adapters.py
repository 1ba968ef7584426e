"""CPU cost per upstream call: the direct `openai_http` adapter against the litellm adapter.

The direct adapter's calls to `http://` servers reached directly, plain and streamed, go over
`router.upstream.http1` (plain calls since 2026-12-07 afternoon, streams since the evening; `https://`
and proxied URLs over aiohttp): compare its rows with the bare aiohttp rows.

Starts the simulator (0 ms latency) as its own process, so the CPU time of this process is the
adapter's client-side cost alone: sequential calls, `time.process_time()` / calls, after a warm-up.
Also shows the bare HTTP clients measured to choose the direct adapter's (httpx vs aiohttp).

    .venv/bin/python benchmarks/upstream_adapters.py [--calls 2000] [--stream-calls 300] [--concurrency 16]
                                                     [--uvloop]

Latest run (2026-12-07 evening, a 2-core machine, Python 3.11, `--uvloop`, aiohttp 3.14, httptools
0.9, litellm adapter with retries off; 2,000 plain calls, 1,000 streams of 21 events each):

    client / adapter                              CPU µs/call  wall µs/call
    bare httpx.AsyncClient POST                           460           516
    bare aiohttp.ClientSession POST                       120           221
    bare aiohttp POST, 16 at a time                        62            65
    openai_http adapter, plain                             57           154
    litellm adapter, plain                               7375          7838
    openai_http adapter, plain, 16 at a time               41            94
    litellm adapter, plain, 16 at a time                 5533          5503
    openai_http adapter, stream (~20 chunks)              128           226
    litellm adapter, stream (~20 chunks)                14048         14461

The direct adapter's plain call (over `http1`, the adapter's own work included) costs less than half
a bare aiohttp POST; on 2026-11-28, over aiohttp, it cost what a bare aiohttp POST costs (112 and
72 µs against 137 and ~70). Its stream over `http1` costs about a third less than over aiohttp:
`PYTHONPATH=<tree> .venv/bin/python benchmarks/upstream_adapters.py --uvloop --stream-only
--stream-calls 1500`, the tree before (a5b557c) and after alternated three times: 104, 132, 169
µs of CPU per stream against 173, 174, 258 (medians 132 and 174; each pair 24-40% lower).
The litellm adapter costs 70-130x the direct one per plain
call, about 100x per stream. httpx costs 4-5x aiohttp, hence aiohttp for what `http1` does not
take. One timer per stream instead of an `asyncio.timeout` per chunk took a stream from ~330 to
~220 µs (over aiohttp).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import orjson

from registry import ModelSpec
from router.upstream.base import Upstream, UpstreamRequest
from router.upstream.litellm_adapter import LiteLLMUpstream
from router.upstream.openai_http import OpenAIHTTPUpstream
from simulator.config import SimModel, SimulatorConfig
from simulator.process import start_simulator

MESSAGES = [{"role": "user", "content": "Say hello in a short sentence."}]
Call = Callable[[], Awaitable[object]]


async def measure(call: Call, calls: int, warmup: int = 100, concurrency: int = 1) -> tuple[float, float]:
    """(CPU µs per call, wall µs per call), `concurrency` callers at a time."""
    async def worker(n: int) -> None:
        for _ in range(n):
            await call()

    await worker(warmup)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    done = calls // concurrency * concurrency
    return (time.process_time() - cpu0) / done * 1e6, (time.perf_counter() - wall0) / done * 1e6


def adapter_call(upstream: Upstream, spec: ModelSpec, *, stream: bool) -> Call:
    body = {"model": spec.id, "messages": MESSAGES, "max_tokens": 20}
    if stream:
        body["stream_options"] = {"include_usage": True}

    async def call() -> object:
        response = await upstream.send(UpstreamRequest(spec=spec, body=body, stream=stream))
        if response.stream is None:
            return response.body
        return [chunk async for chunk in response.stream]

    return call


async def run(base_url: str, calls: int, stream_calls: int, concurrency: int,
              stream_only: bool = False) -> list[tuple[str, float, float]]:
    spec = ModelSpec(id="bench", litellm_model="openai/bench", api_base=base_url + "/v1")
    rows: list[tuple[str, float, float]] = []
    if stream_only:
        direct = OpenAIHTTPUpstream()
        try:
            return [("openai_http adapter, stream (~20 chunks)",
                     *await measure(adapter_call(direct, spec, stream=True), stream_calls, warmup=50))]
        finally:
            await direct.aclose()
    payload = orjson.dumps({"model": "bench", "messages": MESSAGES, "max_tokens": 20})
    headers = {"content-type": "application/json"}
    url = base_url + "/v1/chat/completions"

    async with httpx.AsyncClient() as client:
        async def httpx_call() -> object:
            return orjson.loads((await client.post(url, content=payload, headers=headers)).content)
        rows.append(("bare httpx.AsyncClient POST", *await measure(httpx_call, calls)))
    async with aiohttp.ClientSession() as session:
        async def aiohttp_call() -> object:
            async with session.post(url, data=payload, headers=headers) as response:
                return orjson.loads(await response.read())
        rows.append(("bare aiohttp.ClientSession POST", *await measure(aiohttp_call, calls)))
        if concurrency > 1:
            rows.append((f"bare aiohttp POST, {concurrency} at a time",
                         *await measure(aiohttp_call, calls, concurrency=concurrency)))

    direct = OpenAIHTTPUpstream()
    litellm = LiteLLMUpstream()
    try:
        rows.append(("openai_http adapter, plain", *await measure(adapter_call(direct, spec, stream=False), calls)))
        rows.append(("litellm adapter, plain", *await measure(adapter_call(litellm, spec, stream=False), calls)))
        if concurrency > 1:
            for name, upstream in (("openai_http", direct), ("litellm", litellm)):
                rows.append((f"{name} adapter, plain, {concurrency} at a time",
                             *await measure(adapter_call(upstream, spec, stream=False), calls,
                                            concurrency=concurrency)))
        rows.append(("openai_http adapter, stream (~20 chunks)",
                     *await measure(adapter_call(direct, spec, stream=True), stream_calls, warmup=20)))
        rows.append(("litellm adapter, stream (~20 chunks)",
                     *await measure(adapter_call(litellm, spec, stream=True), stream_calls, warmup=20)))
    finally:
        await direct.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--stream-calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16, help="also measure this many calls at a time")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (as the gateway does)")
    parser.add_argument("--stream-only", action="store_true",
                        help="only the direct adapter's stream row (A/B of two trees: PYTHONPATH=<tree>)")
    args = parser.parse_args()
    model = SimModel(name="bench", min_output_tokens=18, max_output_tokens=18)
    with start_simulator(SimulatorConfig(models=(model,))) as sim:
        runner = asyncio.run
        if args.uvloop:
            import uvloop

            runner = uvloop.run
        rows = runner(run(sim.base_url, args.calls, args.stream_calls, args.concurrency, args.stream_only))
    print(f"{'client / adapter':44s} {'CPU µs/call':>12s} {'wall µs/call':>13s}")
    for name, cpu, wall in rows:
        print(f"{name:44s} {cpu:12.0f} {wall:13.0f}")
    if not args.stream_only:
        direct, lite = (next(cpu for name, cpu, _ in rows if name == f"{kind} adapter, plain")
                        for kind in ("openai_http", "litellm"))
        print(f"litellm / openai_http CPU per plain call: {lite / direct:.1f}x")


if __name__ == "__main__":
    main()

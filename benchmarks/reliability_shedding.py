"""Load ceilings: p99 with and without `server.max_in_flight` when offered more than the gateway carries.

    .venv/bin/python benchmarks/reliability_shedding.py [--rates 60,240] [--seconds 15] [--limit 16]

Two gateways over the same simulated model (50 ms per answer) take the same open-loop load; one
sheds past `--limit` requests in flight, the other has the generous default. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.config import SimModel, SimulatorConfig  # noqa: E402
from simulator.process import start_simulator  # noqa: E402
from tests.conftest import start_gateway  # noqa: E402
from tests.reliability.load import LoadReport, Outcome, run_load  # noqa: E402


def _policy(sim_url: str, limit: int) -> dict[str, Any]:
    return {"version": "shedding-bench",
            "models": [{"id": "work", "litellm_model": "openai/work", "api_base": f"{sim_url}/v1",
                        "max_concurrency": 4096}],
            "router": {"default_model": "work"}, "cache": {"enabled": False},
            "server": {"max_in_flight": limit}}


def _body(i: int) -> dict[str, Any]:
    return {"model": "work", "messages": [{"role": "user", "content": f"Request {i}."}]}


async def _aiohttp_load(base_url: str, rate: float, seconds: float) -> LoadReport:
    """The same open loop with aiohttp, whose client costs far less CPU than httpx's: the gateway,
    not the load generator, must be what saturates."""
    import aiohttp

    report = LoadReport()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base_url, timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=4096)) as session:
        async def one(i: int) -> None:
            started = loop.time()
            try:
                async with session.post("/v1/chat/completions", json=_body(i)) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                report.outcomes.append(Outcome(0, loop.time() - started, error=repr(exc)))
                return
            report.outcomes.append(Outcome(status, loop.time() - started, error="" if status == 200 else "x"))

        loop = asyncio.get_running_loop()
        start, tasks = loop.time(), []
        for i in range(int(rate * seconds)):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.wait(tasks, timeout=70)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="60,240", help="offered loads, requests a second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--limit", type=int, default=16)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    config = SimulatorConfig(seed=1, models=(SimModel(name="work", latency_ms=50),))
    with start_simulator(config) as sim, tempfile.TemporaryDirectory() as tmp:
        print(f"{'limit':>8} {'offered':>8} {'served':>7} {'shed':>6} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8}")
        for limit in (1_000_000, args.limit):
            gw = start_gateway(_policy(sim.base_url, limit), Path(tmp))
            try:
                asyncio.run(run_load(gw.base_url, rate=20, seconds=3, body=_body))  # warm-up
                for rate in rates:
                    report = asyncio.run(_aiohttp_load(gw.base_url, rate, args.seconds))
                    statuses = report.statuses()
                    served = statuses.get(200, 0)
                    failed = len(report.outcomes) - served - statuses.get(503, 0)
                    label = "none" if limit == 1_000_000 else str(limit)
                    print(f"{label:>8} {rate:>8g} {served / args.seconds:>7.1f} {statuses.get(503, 0):>6} "
                          f"{failed:>6} {report.percentile(0.5) * 1000:>8.0f} {report.percentile(0.99) * 1000:>8.0f} "
                          f"{report.percentile(1.0) * 1000:>8.0f}", flush=True)
            finally:
                gw.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

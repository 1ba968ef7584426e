"""Replay: does the router learn an operator's traffic through the feedback API?

For each task family (labelled prompts with real per-model outcomes from ../shared/data/routing, families
the shipped cold-start classifier was not trained on) and each feedback share f (1, 5, 10, 30%):

1. a random f of the prompts is sent through a real gateway (`POST /v1/chat/completions`, simulated
   upstreams) and rated through `POST /v1/feedback` with both ladder models' real outcomes;
2. once the gateway has synced those rows, every other prompt is scored with `POST /v1/route`;
3. APGR on that remainder of: the learned score, the cold-start score (`learned.prior`, the same
   response), prompt length, and random (0.5 in expectation).

Each (family, share) is its own alias, so the rows never mix. Seeds are fixed; run with
`.venv/bin/python benchmarks/learning_replay.py [--families crux,math_l5,mmlupro] [--png FILE]`.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.learning.apgr import apgr  # noqa: E402
from simulator.config import SimModel, SimulatorConfig  # noqa: E402
from simulator.process import start_simulator  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "routing"
SHARES = (0.01, 0.05, 0.10, 0.30)
csv.field_size_limit(10**9)


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    prompts: list[str]
    cheap: list[float]
    strong: list[float]
    ladder: tuple[str, str]


def zeroeval(name: str) -> Family:
    ladder = ("Meta-Llama-3.1-8B-Instruct", "gpt-4o-2024-08-06")
    rows = list(csv.DictReader((DATA / "zeroeval" / f"{name}.csv").open(encoding="utf-8")))
    return Family(name, [r["prompt"] for r in rows], [float(r[ladder[0]] or 0) for r in rows],
                  [float(r[ladder[1]] or 0) for r in rows], ladder)


def mmlupro(limit: int = 1500) -> Family:
    """A seeded sample of MMLU-Pro's non-MMLU questions (14 subjects), question and options as asked."""
    ladder = ("Meta-Llama-3_1-8B-Instruct", "gemini-1.5-pro-002")
    with gzip.open(DATA / "mmlupro" / "mmlupro_non_mmlu.csv.gz", "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows = random.Random(0).sample(rows, min(limit, len(rows)))
    prompts = [f"{r['question']}\nOptions: {r['options']}" for r in rows]
    return Family("mmlupro", prompts, [float(r[ladder[0]] or 0) for r in rows],
                  [float(r[ladder[1]] or 0) for r in rows], ladder)


FAMILIES = {"crux": lambda: zeroeval("crux"), "math_l5": lambda: zeroeval("math_l5"), "mmlupro": mmlupro}


def alias_name(family: str, share: float) -> str:
    return f"{family}-{round(share * 100)}"


def policy(sim_url: str, aliases: list[str]) -> dict[str, object]:
    def model(mid: str, price: tuple[float, float]) -> dict[str, object]:
        return {"id": mid, "litellm_model": f"openai/{mid}", "api_base": f"{sim_url}/v1", "context_window": 200000,
                "price": {"input_per_mtok": price[0], "output_per_mtok": price[1]}}

    return {"version": "replay", "models": [model("cheap", (0.1, 0.2)), model("strong", (3.0, 15.0))],
            "router": {"default_model": "cheap",
                       "aliases": {a: {"tiers": {1: ["cheap"], 3: ["strong"]}} for a in aliases}},
            "server": {"max_body_bytes": 1 << 22},
            "learning": {"enabled": True, "routes": {"*": {}}, "sync_interval_s": 0.2,
                         "feedback_per_minute": 100_000}}


def start_gateway(policy_path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--policy", str(policy_path),
                                 "--port", str(port), "--no-simulator", "--log-level", "warning"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"gateway did not start:\n{log.read_text()}")


def replay(client: httpx.Client, family: Family, share: float, seed: int) -> dict[str, float]:
    alias = alias_name(family.name, share)
    n = len(family.prompts)
    order = np.random.default_rng(seed).permutation(n)
    k = max(1, round(share * n))
    rated, rest = order[:k], order[k:]
    for i in rated:
        reply = client.post("/v1/chat/completions", json={"model": alias, "max_tokens": 8,
                                                          "messages": [{"role": "user", "content": family.prompts[i]}]})
        reply.raise_for_status()
        scores = {"cheap": family.cheap[i], "strong": family.strong[i]}
        client.post("/v1/feedback", json={"request_id": reply.headers["x-request-id"], "scores": scores}
                    ).raise_for_status()
    deadline = time.monotonic() + 30
    while client.get("/admin/learning").json()[alias]["rows"] < k and time.monotonic() < deadline:
        time.sleep(0.1)
    learned, prior = [], []
    for i in rest:
        decision = client.post("/v1/route", json={"model": alias, "messages": [
            {"role": "user", "content": family.prompts[i]}]}).json()
        learned.append(decision["learned"]["score"])
        prior.append(decision["learned"]["prior"])
    cheap = np.asarray(family.cheap)[rest]
    strong = np.asarray(family.strong)[rest]
    length = [len(family.prompts[i]) for i in rest]
    return {"rated": float(k), "scored": float(len(rest)), "learned": apgr(learned, cheap, strong),
            "cold": apgr(prior, cheap, strong), "length": apgr(length, cheap, strong)}


def plot(results: dict[str, dict[float, dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, (name, by_share) in zip(axes[0], results.items(), strict=True):
        shares = sorted(by_share)
        x = [s * 100 for s in shares]
        ax.plot(x, [by_share[s]["learned"] for s in shares], marker="o", label="learned (feedback)")
        ax.plot(x, [by_share[s]["cold"] for s in shares], marker="s", label="cold start")
        ax.plot(x, [by_share[s]["length"] for s in shares], marker="^", label="length rule")
        ax.axhline(0.5, color="grey", linestyle=":", label="random")
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}%" for v in x])
        ax.set_title(name)
        ax.set_xlabel("prompts with feedback")
        ax.set_ylabel("APGR on the rest")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="crux,math_l5,mmlupro")
    parser.add_argument("--shares", default=",".join(str(s) for s in SHARES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--png", type=Path, default=ROOT / "benchmarks" / "results" / "learning-replay.png")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    families = [FAMILIES[name]() for name in args.families.split(",")]
    shares = [float(s) for s in args.shares.split(",")]
    aliases = [alias_name(f.name, s) for f in families for s in shares]
    sim = start_simulator(SimulatorConfig(seed=1, models=(SimModel(name="cheap"), SimModel(name="strong"))))
    workdir = Path(tempfile.mkdtemp(prefix="turnout-replay-"))
    path = workdir / "policy.yaml"
    path.write_text(yaml.safe_dump(policy(sim.base_url, aliases), sort_keys=False))
    port = args.port or _free_port()
    gateway = start_gateway(path, port, workdir / "gateway.log")
    results: dict[str, dict[float, dict[str, float]]] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for family in families:
                for share in shares:
                    started = time.monotonic()
                    r = replay(client, family, share, args.seed)
                    results.setdefault(family.name, {})[share] = r
                    print(f"{family.name:8s} {share:5.0%}  rated {int(r['rated']):5d}  scored {int(r['scored']):5d}  "
                          f"APGR learned {r['learned']:.3f}  cold start {r['cold']:.3f}  length {r['length']:.3f}  "
                          f"({time.monotonic() - started:.0f} s)", flush=True)
    finally:
        gateway.terminate()
        gateway.wait(30)
        sim.stop()
    print("\n| family (prompts) | ladder | " + " | ".join(f"{s:.0%}" for s in shares) + " | cold start | length |")
    print("|---|---|" + "---|" * len(shares) + "---|---|")
    for family in families:
        by_share = results[family.name]
        ten = by_share.get(0.10) or by_share[shares[0]]
        print(f"| {family.name} ({len(family.prompts)}) | {family.ladder[0]} -> {family.ladder[1]} | "
              + " | ".join(f"{by_share[s]['learned']:.3f}" for s in shares)
              + f" | {ten['cold']:.3f} | {ten['length']:.3f} |")
    args.png.parent.mkdir(parents=True, exist_ok=True)
    plot(results, args.png)
    print(f"\ncurve written to {args.png}")
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())

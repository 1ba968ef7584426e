"""Replay: does the router learn an operator's traffic, on task families its cold start never saw?

For each task family (labelled prompts with real per-model outcomes from ../shared/data/routing) the
gateway serves a cold-start classifier trained without that family (`turnout classifier train
--exclude-group`, artifacts in benchmarks/results/cold-start/without-<family>/, switched by a hot
reload of the policy's `classifier:` section). Then for each feedback share f (1, 5, 10, 30%) and seed:

1. a random f of the prompts is sent through the gateway (`POST /v1/chat/completions`, simulated
   upstreams) and rated through `POST /v1/feedback` with both ladder models' real outcomes;
2. once the gateway has synced those rows, every other prompt is scored with `POST /v1/route`;
3. APGR on that remainder of: the learned score, the cold-start score (`learned.prior`, the same
   response), prompt length, and random (0.5 in expectation).

Each (family, share, seed) is its own alias, so the rows never mix.

Selection rule (written and committed before any seed 1-5 figure of the candidates was looked at):
candidate learners are compared on dev seeds 100-102 only. The winner is the candidate with the
highest mean over the three families of (learned APGR at 10% - max(cold start, length)), each term
the mean over the dev seeds; a candidate within 0.005 of the best loses to a simpler one. The final
seeds 1-5 are then run once, after, and reported as they come out (the mean per share, and on how
many seeds the learned score beats each baseline), wins and losses alike. Run with `.venv/bin/python
benchmarks/learning_replay.py [--families crux,math_l5,mmlupro] [--seeds 1,2,3,4,5] [--png FILE]`.
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
from typing import Any

import httpx
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.learning.apgr import apgr  # noqa: E402
from gateway.learning.head import MIN_FIT_ROWS  # noqa: E402
from gateway.learning.index import FIT_ROWS  # noqa: E402
from simulator.config import SimModel, SimulatorConfig  # noqa: E402
from simulator.process import start_simulator  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "routing"
COLD_START = ROOT / "benchmarks" / "results" / "cold-start"
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


def alias_name(family: str, share: float, seed: int) -> str:
    return f"{family}-{round(share * 100)}-s{seed}"


def cold_start(family: str) -> dict[str, str]:
    """The `classifier:` section serving the artifact trained without `family`."""
    path = COLD_START / f"without-{family}" / "classifier.npz"
    sha = path.with_name(path.name + ".sha256").read_text().split()[0]
    return {"artifact": str(path), "sha256": sha}


def policy(sim_url: str, aliases: list[str], family: str) -> dict[str, object]:
    def model(mid: str, price: tuple[float, float]) -> dict[str, object]:
        return {"id": mid, "litellm_model": f"openai/{mid}", "api_base": f"{sim_url}/v1", "context_window": 200000,
                "price": {"input_per_mtok": price[0], "output_per_mtok": price[1]}}

    return {"version": f"replay-{family}", "classifier": cold_start(family),
            "models": [model("cheap", (0.1, 0.2)), model("strong", (3.0, 15.0))],
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


def serve_cold_start(client: httpx.Client, path: Path, sim_url: str, aliases: list[str], family: str) -> None:
    """Hot-reload the policy so the gateway serves the cold start that never saw `family`."""
    path.write_text(yaml.safe_dump(policy(sim_url, aliases, family), sort_keys=False))
    reply = client.post("/admin/reload")
    if reply.status_code != 200 or client.get("/readyz").json()["checks"]["policy"]["version"] != f"replay-{family}":
        raise SystemExit(f"reload to the cold start without {family} failed: {reply.text}")


def replay(client: httpx.Client, family: Family, share: float, seed: int) -> dict[str, float]:
    alias = alias_name(family.name, share, seed)
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
    fitted = min(k, FIT_ROWS) if k >= MIN_FIT_ROWS else 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the rows synced and the alias's head refitted on them
        report = client.get("/admin/learning").json()[alias]
        if report["rows"] >= k and report["head"]["rows"] >= fitted:
            break
        time.sleep(0.1)
    learned, prior = [], []
    for i in rest:
        decision = route(client, alias, family.prompts[i])
        learned.append(decision["learned"]["score"])
        prior.append(decision["learned"]["prior"])
    cheap = np.asarray(family.cheap)[rest]
    strong = np.asarray(family.strong)[rest]
    length = [len(family.prompts[i]) for i in rest]
    return {"rated": float(k), "scored": float(len(rest)), "learned": apgr(learned, cheap, strong),
            "cold": apgr(prior, cheap, strong), "length": apgr(length, cheap, strong)}


def route(client: httpx.Client, alias: str, prompt: str, tries: int = 3) -> dict[str, Any]:
    """The gateway's decision for one prompt (a timed-out call, seen once on the busy shared box, is retried)."""
    for attempt in range(tries):
        try:
            reply = client.post("/v1/route", json={"model": alias, "messages": [{"role": "user", "content": prompt}]})
            reply.raise_for_status()
            decision: dict[str, Any] = reply.json()
            return decision
        except httpx.TimeoutException:
            if attempt == tries - 1:
                raise
            print(f"  /v1/route timed out for {alias}; retrying", file=sys.stderr, flush=True)
    raise AssertionError("unreachable")


Results = dict[str, dict[float, list[dict[str, float]]]]  # family -> share -> one result per seed


def mean(runs: list[dict[str, float]], key: str) -> float:
    return float(np.mean([r[key] for r in runs]))


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, (name, by_share) in zip(axes[0], results.items(), strict=True):
        shares = sorted(by_share)
        x = [s * 100 for s in shares]
        for key, marker, label in (("learned", "o", "learned (feedback)"), ("cold", "s", "cold start (never saw it)"),
                                   ("length", "^", "length rule")):
            runs = [[r[key] for r in by_share[s]] for s in shares]
            ax.errorbar(x, [float(np.mean(v)) for v in runs], yerr=[float(np.std(v)) for v in runs], marker=marker,
                        capsize=3, label=label)
        ax.axhline(0.5, color="grey", linestyle=":", label="random")
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}%" for v in x])
        ax.set_title(name)
        ax.set_xlabel("prompts with feedback")
        ax.set_ylabel("APGR on the rest (mean, std over seeds)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="crux,math_l5,mmlupro")
    parser.add_argument("--shares", default=",".join(str(s) for s in SHARES))
    parser.add_argument("--seeds", default="1,2,3,4,5", help="final seeds 1-5; the blend was picked on 100-102")
    parser.add_argument("--png", type=Path, default=ROOT / "benchmarks" / "results" / "learning-replay.png")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    families = [FAMILIES[name]() for name in args.families.split(",")]
    shares = [float(s) for s in args.shares.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    aliases = [alias_name(f.name, s, seed) for f in families for s in shares for seed in seeds]
    sim = start_simulator(SimulatorConfig(seed=1, models=(SimModel(name="cheap"), SimModel(name="strong"))))
    workdir = Path(tempfile.mkdtemp(prefix="turnout-replay-"))
    path = workdir / "policy.yaml"
    path.write_text(yaml.safe_dump(policy(sim.base_url, aliases, families[0].name), sort_keys=False))
    port = args.port or _free_port()
    gateway = start_gateway(path, port, workdir / "gateway.log")
    results: Results = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for family in families:
                serve_cold_start(client, path, sim.base_url, aliases, family.name)
                for share in shares:
                    for seed in seeds:
                        started = time.monotonic()
                        r = replay(client, family, share, seed)
                        results.setdefault(family.name, {}).setdefault(share, []).append(r)
                        print(f"{family.name:8s} {share:5.0%} seed {seed:3d}  rated {int(r['rated']):5d}  scored "
                              f"{int(r['scored']):5d}  APGR learned {r['learned']:.3f}  cold start {r['cold']:.3f}  "
                              f"length {r['length']:.3f}  ({time.monotonic() - started:.0f} s)", flush=True)
    finally:
        gateway.terminate()
        gateway.wait(30)
        sim.stop()
    table(families, shares, seeds, results)
    args.png.parent.mkdir(parents=True, exist_ok=True)
    plot(results, args.png)
    print(f"\ncurve written to {args.png}")
    return 0


def table(families: list[Family], shares: list[float], seeds: list[int], results: Results) -> None:
    """Means over seeds; the baselines and the wins on the 10% split (the issue's bar)."""
    print(f"\nmean APGR over seeds {','.join(map(str, seeds))} on the unrated remainder")
    print("\n| family (prompts) | " + " | ".join(f"learned {s:.0%}" for s in shares)
          + " | cold start | length | learned beats cold / length (10%) |")
    print("|---|" + "---|" * len(shares) + "---|---|---|")
    for family in families:
        by_share = results[family.name]
        ten = by_share.get(0.10) or by_share[shares[0]]
        wins = [wins_ties(ten, key) for key in ("cold", "length")]
        learned = " | ".join(f"{mean(by_share[s], 'learned'):.3f}" for s in shares)
        print(f"| {family.name} ({len(family.prompts)}) | {learned} | {mean(ten, 'cold'):.3f} | "
              f"{mean(ten, 'length'):.3f} | {wins[0]}, {wins[1]} |")


def wins_ties(runs: list[dict[str, float]], key: str) -> str:
    """On how many seeds the learned score beats `key` ("2/5", "0/5 (3 ties)": same APGR, the same ranking)."""
    wins = sum(r["learned"] > r[key] + 1e-9 for r in runs)
    ties = sum(abs(r["learned"] - r[key]) <= 1e-9 for r in runs)
    return f"{wins}/{len(runs)}" + (f" ({ties} ties)" if ties else "")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())

"""The offline loop end to end, through real processes: chats on a learning alias, feedback through
`POST /v1/feedback`, `turnout learning export`, `turnout learning apgr --plot`, `turnout classifier train
--outcomes`, the policy's `classifier:` section edited and `POST /admin/reload` on a gateway that does
not learn. That gateway has no outcome index at all, so what changes its route is the retrained
artifact alone. The learning metrics the issue lists are read on the learning gateway on the way.

Prompts: the cheaper model (local-small) fails long proofs and does well on short poems (the
stronger, claude-sim, does well on both); the prompts routed afterwards are new ones of each kind.
Rows are exported without their prompts (`keep_prompts` off): training reads their stored vectors.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from classifier.dataset import read_rows
from classifier.model import DEFAULT_DATA
from tests.conftest import GatewayProcess, base_policy, redis_prefix

REDIS_URL = "redis://127.0.0.1:6379/0"
THEOREMS = ("there are infinitely many primes", "the square root of 2 is irrational",
            "every finite group of prime order is cyclic", "a continuous function on a closed interval is bounded",
            "the harmonic series diverges", "every tree with n vertices has n-1 edges",
            "the sum of the first n odd numbers is n squared", "e is irrational", "Lagrange's theorem holds",
            "every bounded monotone sequence converges", "pi is irrational", "Fermat's little theorem holds")
POEMS = ("a haiku about autumn leaves", "a short poem about the sea", "a limerick about a cat", "a haiku about rain",
         "a two-line rhyme about coffee", "a short poem about the moon", "a haiku about snow",
         "a limerick about a dog", "a short poem about trains", "a haiku about the wind", "a poem about a garden",
         "a limerick about a frog")
NEW_PROOFS = ("there are infinitely many primes congruent to 3 mod 4", "every compact metric space is complete",
              "the product of two odd numbers is odd")
NEW_POEMS = ("a haiku about a river", "a limerick about a goat", "a short poem about autumn")
CHEAP, STRONG = "local-small", "claude-sim"


def proof(theorem: str) -> str:
    return (f"Prove that {theorem}. Give a complete, rigorous proof, state and prove every lemma you use, "
            "and justify each step carefully.")


def poem(subject: str) -> str:
    return f"Write {subject}."


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    yield from redis_prefix("retrain", REDIS_URL)


def _cli(*args: str, timeout: float = 120) -> str:
    env = {**os.environ, "TURNOUT_REDIS_URL": REDIS_URL}
    done = subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _route(gw: GatewayProcess, content: str) -> dict[str, Any]:
    # the first decision of an artifact also embeds the explainer's training prompts (seconds on a busy box)
    reply = httpx.post(gw.base_url + "/v1/route", timeout=90,
                       json={"model": "auto", "messages": [{"role": "user", "content": content}]})
    assert reply.status_code == 200, reply.text
    decision: dict[str, Any] = reply.json()
    return decision


def _metric(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{series} not exported"
    return float(found.group(1))


def _small_training_set(path: Path, per_family: int = 8) -> Path:
    """A few committed rows of every task family: the public data the outcome rows are added to."""
    seen: dict[str, int] = {}
    with path.open("w", encoding="utf-8") as out:
        for _, row in read_rows(DEFAULT_DATA):
            if seen.get(row["group"], 0) < per_family:
                seen[row["group"]] = seen.get(row["group"], 0) + 1
                out.write(json.dumps(row) + "\n")
    return path


def _learn(gw: GatewayProcess) -> None:
    """Chats through the openai SDK, then each answer rated with both models' outcomes."""
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="anything", max_retries=0)
    for theorem, subject in zip(THEOREMS, POEMS, strict=True):
        for content, cheap in ((proof(theorem), 0.0), (poem(subject), 1.0)):
            raw = client.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": content}])
            rated = httpx.post(gw.base_url + "/v1/feedback", timeout=30, json={
                "request_id": raw.headers["x-request-id"], "scores": {CHEAP: cheap, STRONG: 1.0}})
            assert rated.status_code == 200 and rated.json()["status"] == "recorded", rated.text


def _learning_metrics(gw: GatewayProcess, rows: list[dict[str, Any]]) -> None:
    """Item 5's series on the gateway that learned: feedback and rows received, predicted vs observed
    need (the rows' served scores vs their labels), threshold and strong share as `/admin/learning` says."""
    deadline = time.monotonic() + 15  # the replica reads new rows every sync_interval_s
    text = httpx.get(gw.base_url + "/metrics", timeout=30).text
    while _metric(text, 'turnout_outcome_rows_total{source="feedback"}') < len(rows) and time.monotonic() < deadline:
        time.sleep(0.2)
        text = httpx.get(gw.base_url + "/metrics", timeout=30).text
    assert _metric(text, 'turnout_feedback_total{result="recorded"}') == len(rows)
    assert _metric(text, 'turnout_outcome_rows_total{source="feedback"}') == len(rows)
    assert _metric(text, 'turnout_outcome_rows_total{source="shadow"}') == 0
    assert _metric(text, "turnout_shadow_spend_usd_total") == 0
    assert _metric(text, 'turnout_router_need{alias="auto",kind="observed"}') == pytest.approx(0.5)
    predicted = sum(r["predicted"] for r in rows) / len(rows)
    assert _metric(text, 'turnout_router_need{alias="auto",kind="predicted"}') == pytest.approx(predicted, abs=1e-6)
    report = httpx.get(gw.base_url + "/admin/learning", timeout=30).json()["auto"]
    assert _metric(text, 'turnout_router_threshold{alias="auto"}') == report["threshold"] == 0.5
    assert _metric(text, 'turnout_router_strong_share{alias="auto"}') == pytest.approx(report["strong_share"])
    assert 0.0 <= report["strong_share"] <= 1.0


def _apgr(rows_path: Path, png: Path, count: int) -> None:
    out = _cli("learning", "apgr", "--input", str(rows_path), "--windows", "2", "--plot", str(png))
    table = [line.split() for line in out.splitlines() if re.match(r"^\d\d-\d\d ", line)]
    assert len(table) == 2, out
    assert sum(int(cells[-3]) for cells in table) == count
    for cells in table:
        router, cold = float(cells[-2]), float(cells[-1])
        assert 0.0 <= router <= 1.0 and 0.5 < cold <= 1.0, out  # the cold start already ranks proofs first
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000


def _scores(gw: GatewayProcess) -> tuple[list[float], list[float], list[int]]:
    """(scores of the new proofs, of the new poems, tiers of the new proofs) as `/v1/route` serves them."""
    proofs = [_route(gw, proof(t)) for t in NEW_PROOFS]
    poems = [_route(gw, poem(s)) for s in NEW_POEMS]
    return [d["score"] for d in proofs], [d["score"] for d in poems], [d["tier"] for d in proofs]


def test_exported_outcomes_retrain_the_artifact_and_it_hot_reloads(
        sim: Any, gateway_factory: Callable[..., GatewayProcess], prefix: str, tmp_path: Path) -> None:
    learning_doc: dict[str, Any] = base_policy(sim.base_url)
    learning_doc["redis"] = {"url_env": "TURNOUT_REDIS_URL", "timeout_s": 2.0}
    learning_doc["learning"] = {"enabled": True, "key_prefix": f"{prefix}:learn", "routes": {"auto": {}},
                                "sync_interval_s": 0.2, "feedback_per_minute": 1000}
    learning_path = tmp_path / "learning.yaml"
    learning_path.write_text(yaml.safe_dump(learning_doc, sort_keys=False))
    plain_doc: dict[str, Any] = base_policy(sim.base_url)  # no learning section: no outcome index
    plain_path = tmp_path / "plain.yaml"
    plain_path.write_text(yaml.safe_dump(plain_doc, sort_keys=False))
    with ThreadPoolExecutor(2) as pool:  # the two gateways start, and the plain one warms, side by side
        starting = pool.submit(gateway_factory, learning_path, env={"TURNOUT_REDIS_URL": REDIS_URL})
        plain = gateway_factory(plain_path, env={"TURNOUT_POLICY_WATCH_S": "0"})
        before = pool.submit(_scores, plain)
        learner = starting.result()
        _learn(learner)
        proofs_before, poems_before, tiers_before = before.result()

    rows_path = tmp_path / "rows.jsonl"
    out = _cli("learning", "export", "--policy", str(learning_path), "--output", str(rows_path))
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert len(rows) == 2 * len(THEOREMS) and "prompt" not in rows[0] and f"--outcomes {rows_path}" in out, out
    _learning_metrics(learner, rows)
    _apgr(rows_path, tmp_path / "apgr.png", len(rows))

    public = _small_training_set(tmp_path / "public.jsonl")
    out = _cli("classifier", "train", "--no-default-data", "--data", str(public), "--outcomes", str(rows_path),
               "--folds", "3", "--output", str(tmp_path / "retrained"))
    found = re.search(r"^artifact (\S+) sha256 ([0-9a-f]{64}) ", out, re.MULTILINE)
    assert found is not None, out
    assert f"classifier:\n  artifact: {found.group(1)}\n  sha256: {found.group(2)}" in out
    plain_path.write_text(yaml.safe_dump({**plain_doc, "version": "retrained", "classifier": {
        "artifact": str(Path(found.group(1)).relative_to(tmp_path)), "sha256": found.group(2)}}, sort_keys=False))
    reloaded = httpx.post(plain.base_url + "/admin/reload", timeout=60)
    assert reloaded.status_code == 200 and "classifier" in reloaded.json()["applied"], reloaded.text

    proofs_after, poems_after, tiers_after = _scores(plain)
    assert all(a > b + 0.05 for a, b in zip(proofs_after, proofs_before, strict=True)), (proofs_before, proofs_after)
    assert all(a >= b for a, b in zip(tiers_after, tiers_before, strict=True)), (tiers_before, tiers_after)
    assert min(proofs_after) > max(poems_after)
    gap_before = sum(proofs_before) / 3 - sum(poems_before) / 3
    assert sum(proofs_after) / 3 - sum(poems_after) / 3 > gap_before + 0.05, (proofs_after, poems_after)

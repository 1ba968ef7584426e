"""`turnout route --explain`: the decision for a person, without a gateway or a model call."""

from __future__ import annotations

import json
import subprocess
import sys


def _route(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "route", *args], capture_output=True, text=True,
                          check=False, timeout=60)


def test_route_explain_orders_easy_and_hard_prompts() -> None:
    easy = _route("--explain", "hi there")
    hard = _route("--explain", "Write a Python function that implements a thread-safe LRU cache with TTL "
                               "eviction, and prove its amortized complexity.")
    assert easy.returncode == 0 and hard.returncode == 0, easy.stderr + hard.stderr
    assert easy.stdout.startswith("alias 'auto': tier 1") and "chain: local-small" in easy.stdout
    assert "task code" in hard.stdout

    def score(out: str) -> float:
        return float(out.split("why: score ")[1].split()[0])

    assert score(easy.stdout) < score(hard.stdout)
    for out in (easy.stdout, hard.stdout):  # why: the length prior and the nearest training prompts
        assert "length prior" in out and "nearest training prompts:" in out
        assert out.count("right:") + out.count("wrong:") + out.count("weak label") >= 3


def test_route_without_explain_prints_the_decision_and_why_as_json() -> None:
    result = _route("hi there")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["alias"] == "auto" and decision["tier"] == 1
    assert len(decision["why"]["nearest_training_prompts"]) == 3 and 0 <= decision["why"]["length_prior"] <= 1


def test_route_rejects_a_model_that_is_not_an_alias() -> None:
    result = _route("--model", "nope", "hi")
    assert result.returncode == 2 and "'nope' is not an alias" in result.stderr

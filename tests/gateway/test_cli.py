"""`turnout route --explain`: the decision for a person, without a gateway or a model call."""

from __future__ import annotations

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
    assert hard.stdout.startswith("alias 'auto': tier 3") and "task code" in hard.stdout
    assert "chain: claude-sim" in hard.stdout


def test_route_rejects_a_model_that_is_not_an_alias() -> None:
    result = _route("--model", "nope", "hi")
    assert result.returncode == 2 and "'nope' is not an alias" in result.stderr

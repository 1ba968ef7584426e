"""The raw research data (../shared/data/routing) -> labelled rows; skipped when the data is absent."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from classifier.dataset import read_rows
from classifier.pipeline import DEFAULT_DATA
from classifier.sources import COMMITTABLE, SOURCES

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "routing"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/routing is not present")


def test_routerbench_tiers_follow_the_data_readme() -> None:
    examples = SOURCES["routerbench"](SHARED)
    tiers = Counter(e.tier for e in examples)
    assert len(examples) == 3176
    assert tiers[2] == 750 and 330 <= tiers[3] <= 340  # README: about 750 moderate, 335 complex
    assert all(len(e.costs) == 3 and min(e.costs.values()) > 0 for e in examples)  # real prices, all rows


def test_committed_training_set_is_derived_from_the_shared_data() -> None:
    rebuilt = [json.dumps(e.to_json(), ensure_ascii=False, sort_keys=True)
               for name in COMMITTABLE for e in SOURCES[name](SHARED)]
    committed = [json.dumps(row, ensure_ascii=False, sort_keys=True) for _, row in read_rows(DEFAULT_DATA)]
    assert rebuilt == committed


def test_routerdc_rows_are_labelled_but_never_committed() -> None:
    examples = SOURCES["routerdc"](SHARED)
    assert {e.group for e in examples} >= {"arc", "math", "mbpp", "humaneval"}
    assert all(e.weight < 1 for e in examples)
    assert "routerdc" not in COMMITTABLE
    assert not any(row.get("source") == "routerdc" for _, row in read_rows(DEFAULT_DATA))

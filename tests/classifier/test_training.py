"""Training and evaluation on small labelled files (the operator path), end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier import Classifier
from classifier.dataset import DatasetError, read_examples, read_rows, tier_from_outcomes
from classifier.evaluation import CLASSIFIER, render
from classifier.pipeline import DEFAULT_DATA, DataSpec, run_eval, train
from classifier.training import TrainConfig


def _subset(tmp_path: Path, per_group: int = 25) -> Path:
    """A few committed rows of every task family, as an operator-style JSONL file."""
    seen: dict[str, int] = {}
    path = tmp_path / "labelled.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for _, row in read_rows(DEFAULT_DATA):
            if seen.get(row["group"], 0) < per_group:
                seen[row["group"]] = seen.get(row["group"], 0) + 1
                out.write(json.dumps(row) + "\n")
    return path


def test_outcomes_to_tier_follows_the_ladder() -> None:
    assert tier_from_outcomes([1, 1, 1]) == 1
    assert tier_from_outcomes([0, 1, 1]) == 2
    assert tier_from_outcomes([0, 0, 1]) == 3
    assert tier_from_outcomes([0, 0, 0]) == 1  # nobody right: the cheap model is still the cheapest choice
    assert tier_from_outcomes([None, 0.0, 0.9]) == 3


def test_operator_rows_with_outcomes_need_a_ladder(tmp_path: Path) -> None:
    path = tmp_path / "ops.jsonl"
    rows = [{"id": "a", "messages": [{"role": "user", "content": "hi"}], "tier": 1},
            {"prompt": "prove it", "outcomes": {"small": 0, "mid": 0, "big": 1}}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    examples = read_examples(path, ladder=("small", "mid", "big"))
    assert [e.tier for e in examples] == [1, 3]
    with pytest.raises(DatasetError, match=r"ops.jsonl:2: .*ladder"):
        read_examples(path)
    path.write_text(json.dumps({"prompt": "x", "tier": 7}) + "\n")
    with pytest.raises(DatasetError, match=r"ops.jsonl:1: tier must be"):
        read_examples(path)


def test_train_on_a_small_labelled_file_writes_a_loadable_artifact_and_card(tmp_path: Path) -> None:
    data = _subset(tmp_path)
    out = tmp_path / "artifacts"
    result = train(DataSpec(default_data=False, extra=(data,)), TrainConfig(), output=out, show_progress=False)
    classifier = Classifier.from_file(result.artifact)
    hard = classifier.classify([{"role": "user", "content": "Prove the Riemann hypothesis step by step. " * 5}])
    assert 0.0 <= hard.score <= 1.0
    card = (out / "MODEL_CARD.md").read_text()
    assert result.sha256 in card and "scikit-learn" in card and "macro-F1" in card
    assert "leave-one-family-out" in card  # the default protocol
    again = train(DataSpec(default_data=False, extra=(data,)), TrainConfig(), output=tmp_path / "again",
                  show_progress=False)
    assert again.sha256 == result.sha256  # seeded and byte-reproducible


def test_eval_reports_every_baseline_on_held_out_families(tmp_path: Path) -> None:
    examples, _ = DataSpec(default_data=False, extra=(_subset(tmp_path),)).load()
    report, _, _ = run_eval(examples, TrainConfig(), folds=3, show_progress=False)
    assert {"arc", "mbpp", "winogrande", "all priced rows"} <= set(report.routing)
    routers = {row.router for row in report.routing["mbpp"]}
    assert routers == {CLASSIFIER, "random (equal cost)", "prompt length", "keyword rule (LiteLLM-style)"}
    random_row = next(r for r in report.routing["mbpp"] if r.router.startswith("random"))
    assert random_row.report.apgr == pytest.approx(0.5)
    text = render(report)
    assert "always cheap" in text and "always strong" in text and "APGR" in text
    assert 0.0 <= report.tiers.macro_f1 <= 1.0 and 0.0 <= report.tiers.ece <= 1.0

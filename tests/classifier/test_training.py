"""Training and evaluation on small labelled files (the operator path), end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier import Classifier
from classifier.dataset import DatasetError, read_examples, read_rows, tier_from_outcomes
from classifier.evaluation import LENGTH, POOLED, RANDOM
from classifier.heads import CANDIDATES
from classifier.model import DEFAULT_DATA
from classifier.pipeline import DataSpec, run_eval, shipped_head, train
from classifier.report import render
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


def test_train_on_a_small_labelled_file_writes_a_loadable_artifact_card_and_curve(tmp_path: Path) -> None:
    data = _subset(tmp_path)
    out = tmp_path / "artifacts"
    result = train(DataSpec(default_data=False, extra=(data,)), TrainConfig(), output=out, show_progress=False)
    classifier = Classifier.from_file(result.artifact)
    hard = classifier.classify([{"role": "user", "content": "Prove the Riemann hypothesis step by step. " * 5}])
    assert 0.0 <= hard.score <= 1.0
    card = (out / "MODEL_CARD.md").read_text()
    assert result.sha256 in card and "scikit-learn" in card and "macro-F1" in card
    assert "leave-one-family-out" in card and result.report.chosen in card
    assert (out / "cost_quality.png").read_bytes().startswith(b"\x89PNG")
    again = train(DataSpec(default_data=False, extra=(data,)), TrainConfig(), output=tmp_path / "again",
                  show_progress=False)
    assert again.sha256 == result.sha256  # seeded and byte-reproducible


def test_eval_compares_every_candidate_with_length_and_random(tmp_path: Path) -> None:
    examples, _ = DataSpec(default_data=False, extra=(_subset(tmp_path),)).load()
    report, _ = run_eval(examples, folds=0, show_progress=False)
    assert {"arc", "mbpp", "winogrande", "crux", "mmlupro-stemez", POOLED} <= set(report.apgr)
    assert "trivia_qa" not in report.apgr  # the stronger model is not better there: no gap to recover
    for row in report.apgr.values():
        assert set(row) == {*CANDIDATES, LENGTH, RANDOM}
        assert row[RANDOM] == pytest.approx(0.5)
    assert report.chosen == LENGTH or CANDIDATES[report.chosen].servable
    text = render(report)
    assert "| held-out family | rows | router | prompt length | random |" in text and "mean per family" in text
    assert 0.0 <= report.tiers.macro_f1 <= 1.0 and 0.0 <= report.tiers.ece <= 1.0


def test_exclude_group_leaves_the_family_out_and_fits_the_shipped_head_only(tmp_path: Path) -> None:
    spec = DataSpec(default_data=False, extra=(_subset(tmp_path),), exclude_groups=("crux", "mmlupro-*"))
    examples, used = spec.load()
    groups = {e.group for e in examples}
    assert "crux" not in groups and not any(g.startswith("mmlupro-") for g in groups) and "arc" in groups
    assert "without the task families crux, mmlupro-*" in used[-1]
    result = train(spec, TrainConfig(), output=tmp_path / "out", show_progress=False)
    assert result.report.candidates == (shipped_head(),) and result.report.chosen in (shipped_head(), LENGTH)
    assert not {"crux", "mmlupro-stemez"} & set(result.report.apgr)
    assert Classifier.from_file(result.artifact).meta["config"]["head"] == shipped_head()
    with pytest.raises(ValueError, match="matches no task family"):
        DataSpec(default_data=False, extra=(_subset(tmp_path),), exclude_groups=("nothing*",)).load()

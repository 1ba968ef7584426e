"""Exported outcome rows as training data (`classifier train --outcomes`): read from their stored
vectors, labelled along their alias's ladder, weighted as a share of the fit, and what they teach
shows in the retrained artifact's scores."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifier import Classifier
from classifier.dataset import DatasetError, read_examples, read_rows
from classifier.model import DEFAULT_DATA
from classifier.outcomes import example_from_outcome_row, read_outcome_rows
from classifier.pipeline import DataSpec, shipped_head, train
from classifier.request import embed_requests
from classifier.training import TrainConfig
from classifier.trainset import outcome_weights
from embedding import StaticEmbedder

ROOT = Path(__file__).resolve().parents[2]
PROOFS = ("there are infinitely many primes", "the square root of 2 is irrational", "the harmonic series diverges",
          "every finite group of prime order is cyclic", "e is irrational", "every tree with n vertices has n-1 edges",
          "every bounded monotone sequence converges", "Fermat's little theorem holds", "there is no largest prime",
          "a continuous function on a closed interval is bounded", "the sum of the first n odd numbers is n squared",
          "Lagrange's theorem holds for finite groups", "the intermediate value theorem holds", "pi is irrational",
          "the set of real numbers is uncountable", "every planar graph is 5-colourable")
POEMS = tuple(f"a short poem about {s}" for s in ("autumn leaves", "the sea", "a cat", "rain", "coffee", "the moon",
                                                 "snow", "a dog", "trains", "the wind", "a garden", "a frog",
                                                 "mountains", "friendship", "the night", "spring"))


def proof(theorem: str) -> str:
    return (f"Prove that {theorem}. Give a complete, rigorous proof, state and prove every lemma you use, "
            "and justify each step carefully.")


def poem(subject: str) -> str:
    return f"Write {subject}."


def exported(text: str, cheap: float, *, prompt: bool = False, vector: np.ndarray | None = None) -> dict[str, Any]:
    """A row as `turnout learning export` writes it (the prompt only when keep_prompts was on)."""
    e = embed_requests(StaticEmbedder.load(), [[{"role": "user", "content": text}]])[0]
    v = e.vector if vector is None else vector
    row = {"alias": "auto", "cheap": "local-small", "strong": "claude-sim", "group": "operator:auto",
           "vector": base64.b64encode(np.asarray(v, dtype=np.float32).tobytes()).decode(),
           "outcomes": {"local-small": cheap, "claude-sim": 1.0}, "prior": 0.2, "predicted": 0.2,
           "prompt_chars": e.prompt_chars, "source": "feedback", "at": time.time()}
    return {**row, "prompt": text} if prompt else row


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_row_trains_from_its_vector_labelled_along_its_ladder() -> None:
    row = exported(proof("pi is irrational"), 0.0)
    example = example_from_outcome_row(row, dimension=256)
    assert example is not None and example.messages == () and example.vector is not None
    assert example.ladder == ("local-small", "claude-sim") and example.tier == 3 and example.group == "operator:auto"
    assert example.prompt_chars == len(proof("pi is irrational"))
    assert example_from_outcome_row(exported(poem("a haiku"), 1.0), dimension=256).tier == 1  # type: ignore[union-attr]
    unlabelled = {**row, "outcomes": {"claude-sim": 1.0}}  # the served answer was the stronger model's
    assert example_from_outcome_row(unlabelled, dimension=256) is None


def test_a_vector_of_another_embedder_needs_the_kept_prompt() -> None:
    other = np.ones(384, dtype=np.float32) / np.sqrt(384)
    with pytest.raises(DatasetError, match=r"384 dimensions, the embedder 256.*learning\.keep_prompts"):
        example_from_outcome_row(exported("Prove it.", 0.0, vector=other), dimension=256)
    again = example_from_outcome_row(exported("Prove it.", 0.0, vector=other, prompt=True), dimension=256)
    assert again is not None and again.vector is None  # embedded again from the prompt
    assert again.messages == ({"role": "user", "content": "Prove it."},)


def test_files_name_the_line_and_data_rows_point_at_outcomes(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.jsonl", [exported("hello", 1.0), {"prompt": "x", "tier": 1}])
    with pytest.raises(DatasetError, match=r"rows.jsonl:2: not an exported outcome row"):
        read_outcome_rows(path, dimension=256)
    path = write(tmp_path / "rows.jsonl", [exported("hello", 1.0), {**exported("hi", 1.0), "outcomes": {}}])
    examples, skipped = read_outcome_rows(path, dimension=256)
    assert len(examples) == 1 and skipped == 1
    with pytest.raises(DatasetError, match=r"rows.jsonl:1: .*pass its file with --outcomes"):
        read_examples(path)


def test_outcome_rows_carry_their_share_of_the_weight() -> None:
    weights = np.array([1.0, 3.0, 2.0, 2.0])
    mine = np.array([False, False, True, True])
    scaled = outcome_weights(weights, mine, 0.25)
    assert scaled[mine].sum() == pytest.approx(0.25 * scaled.sum()) and list(scaled[~mine]) == [1.0, 3.0]
    assert list(outcome_weights(weights, np.zeros(4, dtype=bool), 0.5)) == list(weights)
    with pytest.raises(ValueError, match="share"):
        outcome_weights(weights, mine, 1.0)


def _public(tmp_path: Path, per_family: int = 8) -> Path:
    seen: dict[str, int] = {}
    rows = []
    for _, row in read_rows(DEFAULT_DATA):
        if seen.get(row["group"], 0) < per_family:
            seen[row["group"]] = seen.get(row["group"], 0) + 1
            rows.append(row)
    return write(tmp_path / "public.jsonl", rows)


def test_what_the_rows_say_is_in_the_retrained_artifact(tmp_path: Path) -> None:
    """Same public rows and head, with and without the operator's rows (the cheaper model failed the
    proofs and did well on the poems): only with them do unseen proofs score well above unseen poems."""
    public = _public(tmp_path)
    rows = write(tmp_path / "rows.jsonl", [r for t, s in zip(PROOFS[1:], POEMS[1:], strict=True)
                                           for r in (exported(proof(t), 0.0), exported(poem(s), 1.0))])
    spec = DataSpec(default_data=False, extra=(public,))
    control = train(spec, TrainConfig(head=shipped_head()), output=tmp_path / "control", folds=3,
                    show_progress=False)
    spec = DataSpec(default_data=False, extra=(public,), outcomes=(rows,))
    learned = train(spec, TrainConfig(), output=tmp_path / "learned", folds=3, show_progress=False)
    assert learned.report.candidates == (shipped_head(),)  # the shipped head refitted, no comparison
    assert "operator:auto" in learned.report.apgr  # judged along the alias's ladder like any family
    card = (tmp_path / "learned" / "MODEL_CARD.md").read_text()
    assert f"{rows} (sha256 " in card and ": 30 outcome rows" in card

    unseen = [proof(PROOFS[0]), proof("every compact metric space is complete"), poem(POEMS[0]),
              poem("a short poem about a river")]

    def gap(path: Path) -> float:
        scores = [Classifier.from_file(path).classify([{"role": "user", "content": p}]).score for p in unseen]
        return (scores[0] + scores[1] - scores[2] - scores[3]) / 2

    assert gap(learned.artifact) > gap(control.artifact) + 0.05


def test_the_cli_refuses_bad_rows_in_one_line_and_never_the_shipped_directory(tmp_path: Path) -> None:
    other = np.ones(384, dtype=np.float32) / np.sqrt(384)
    rows = write(tmp_path / "rows.jsonl", [exported("Prove it.", 0.0, vector=other)])
    command = [sys.executable, "-m", "classifier", "classifier", "train", "--outcomes", str(rows)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "--outcomes needs an --output directory" in done.stderr
    done = subprocess.run([*command, "--output", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"classifier train: {rows}:1: its vector has 384 dimensions, the embedder 256, and it has no prompt to "
        "embed again: export rows with learning.keep_prompts on"]
    rows = write(tmp_path / "rows.jsonl", [exported("Prove it.", 0.0), exported("Hello.", 1.0)])
    done = subprocess.run([*command, "--output", str(tmp_path / "out"), "--no-default-data"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "classifier train: one task family (operator:auto) cannot be trained on: every family is held out in "
        "turn, so add the committed data (drop --no-default-data) or --data"], done.stderr

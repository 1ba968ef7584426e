"""The CLI: parser wiring and one real `python -m classifier classify` run."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from classifier.cli import cmd_classify, cmd_eval, cmd_train, register

ROOT = Path(__file__).resolve().parents[2]


def test_register_adds_the_commands_with_handlers() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    assert parser.parse_args(["classifier", "train"]).func is cmd_train
    assert parser.parse_args(["classifier", "eval"]).folds == 0  # leave one task family out
    assert parser.parse_args(["classifier", "eval", "--folds", "3"]).func is cmd_eval
    with pytest.raises(SystemExit):
        parser.parse_args(["classifier", "eval", "--folds", "-1"])
    args = parser.parse_args(["classifier", "train", "--exclude-group", "crux", "--exclude-group", "mmlupro-*"])
    assert args.exclude_group == ["crux", "mmlupro-*"]
    with pytest.raises(SystemExit, match="needs an --output"):  # never over the shipped artifact
        cmd_train(args)
    args = parser.parse_args(["classify", "--input", "a.jsonl", "--output", "b.jsonl"])
    assert args.func is cmd_classify and args.margin == 0.5


def test_classify_file_keeps_ids_and_writes_one_result_per_line(tmp_path: Path) -> None:
    source, target = tmp_path / "prompts.jsonl", tmp_path / "scores.jsonl"
    rows = [
        {"id": "q1", "prompt": "hi"},
        {"id": 2, "request_id": "r-2", "messages": [{"role": "system", "content": "Be terse."},
                                                     {"role": "user", "content": "Prove that sqrt(2) is irrational."}]},
        {"prompt": "Write a haiku about autumn."},
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    done = subprocess.run([sys.executable, "-m", "classifier", "classify", "--input", str(source), "--output",
                           str(target)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r.get("id") for r in results] == ["q1", 2, None]
    assert results[1]["request_id"] == "r-2"
    for result in results:
        assert "prompt" not in result and "messages" not in result
        assert result["tier"] in (1, 2, 3) and 0.0 <= result["score"] <= 1.0
        assert abs(sum(result["probabilities"]) - 1.0) < 1e-5
        assert isinstance(result["task"], str) and isinstance(result["uncertain"], bool)


@pytest.mark.parametrize(("raw", "expected"), [
    (json.dumps({"id": 1, "text": "no prompt field"}).encode() + b"\n", "bad.jsonl:1: needs a `prompt`"),
    (b'{"prompt": "fine"}\n{"prompt": "caf\xe9"}\n', "bad.jsonl:2: not UTF-8 text"),
    (b'{"prompt": "fine"}\n[1, 2]\n', "bad.jsonl:2: not a JSON object"),
    (b'{"messages": [5]}\n', "bad.jsonl:1: needs a `prompt` string or a non-empty `messages` list of objects"),
])
def test_classify_reports_a_bad_line(tmp_path: Path, raw: bytes, expected: str) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_bytes(raw)
    done = subprocess.run([sys.executable, "-m", "classifier", "classify", "--input", str(source), "--output",
                           str(tmp_path / "out.jsonl")], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"classify: {tmp_path}/{expected}"), done.stderr
    assert "Traceback" not in done.stderr


def test_classify_reports_a_missing_artifact_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"prompt": "hi"}\n')
    done = subprocess.run([sys.executable, "-m", "classifier", "classify", "--input", str(source), "--output",
                           str(tmp_path / "out.jsonl"), "--artifact", str(tmp_path / "nope.npz")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stderr.startswith("classify: cannot read classifier artifact"), done.stderr
    assert len(done.stderr.splitlines()) == 1

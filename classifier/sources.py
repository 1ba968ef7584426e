"""Raw research data (../shared/data/routing) -> labelled examples, one loader per source.

The labelling rule is the data README's: along a price ladder of a cheap, a mid and a strong model,
the first model that got the prompt right gives the tier; none right is tier 1. `difficulty/` has no
per-model outcomes, so its rows are weak labels with a lower weight.
"""

from __future__ import annotations

import ast
import csv
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from classifier.dataset import WEAK_SOURCE, Example, tier_from_outcomes

ROUTERBENCH_LADDER = ("mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat", "gpt-4-1106-preview")
DCROUTER_LADDER = ("gemma-2-9b-it", "llama-3.1-8b-instruct", "llama-3.1-nemotron-51b-instruct")
ROUTERDC_LADDER = ("itpossible/Chinese-Mistral-7B-v0.1", "mistralai/Mistral-7B-v0.1",
                   "cognitivecomputations/dolphin-2.9-llama3-8b")
WEAK_LABEL_WEIGHT = 0.3
ROUTERDC_WEIGHT = 0.5

# data task name -> (task family used for grouped splits, Task value)
TASKS: dict[str, tuple[str, str]] = {
    "arc-challenge": ("arc", "knowledge"), "arc_challenge": ("arc", "knowledge"), "arc_easy": ("arc", "knowledge"),
    "mbpp": ("mbpp", "code"), "winogrande": ("winogrande", "reasoning"), "natural_qa": ("natural_qa", "knowledge"),
    "trivia_qa": ("trivia_qa", "knowledge"), "openbook_qa": ("openbook_qa", "knowledge"),
    "commonsense_qa": ("commonsense_qa", "reasoning"), "math": ("math", "math"), "gpqa": ("gpqa", "knowledge"),
    "human_eval": ("humaneval", "code"), "humaneval": ("humaneval", "code"), "javascript": ("javascript", "code"),
    "agentverse-logicgrid": ("logicgrid", "reasoning"), "commongen": ("commongen", "creative"),
    "math_prealgebra": ("math", "math"),
}
ARENA_TASKS = {"coding": "code", "math": "math", "creative_writing": "creative"}


class Source(Protocol):
    def __call__(self, root: Path) -> list[Example]: ...


def _user(text: str) -> tuple[dict[str, Any], ...]:
    return ({"role": "user", "content": text},)


def _score(value: str) -> float | None:
    return float(value) if value.strip() else None


def routerbench(root: Path) -> list[Example]:
    """RouterBench zero-shot slices (MIT): real outcomes and real per-prompt prices."""
    csv.field_size_limit(1 << 30)
    examples = []
    for path in sorted((root / "routerbench").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                prompt = ast.literal_eval(row["prompt"])
                text = "\n".join(prompt) if isinstance(prompt, list) else str(prompt)
                outcomes = {m: s for m in ROUTERBENCH_LADDER if (s := _score(row[m])) is not None}
                family, task = TASKS[row["eval_name"]]
                examples.append(Example(
                    messages=_user(text), tier=tier_from_outcomes([outcomes.get(m) for m in ROUTERBENCH_LADDER]),
                    group=family, source="routerbench", task=task, outcomes=outcomes,
                    costs={m: float(row[f"{m}|total_cost"]) for m in ROUTERBENCH_LADDER},
                ))
    return examples


def _scored_json(rows: list[dict[str, Any]], *, ladder: tuple[str, ...], source: str, task_name: Callable[
        [dict[str, Any]], str], weight: float = 1.0) -> list[Example]:
    examples = []
    for row in rows:
        family, task = TASKS[task_name(row)]
        outcomes = {m: float(row["scores"][m]) for m in ladder if row["scores"].get(m) is not None}
        examples.append(Example(
            messages=_user(row["question"]), tier=tier_from_outcomes([outcomes.get(m) for m in ladder]),
            group=family, source=source, task=task, weight=weight, outcomes=outcomes,
        ))
    return examples


def dcrouter(root: Path) -> list[Example]:
    """LLMRouter's dcrouter set (MIT): 9 open models' scores on 11 tasks."""
    rows = []
    for name in ("dcrouter_train.json", "dcrouter_test.json"):
        rows += json.loads((root / "llmrouter" / name).read_text(encoding="utf-8"))
    return _scored_json(rows, ladder=DCROUTER_LADDER, source="dcrouter", task_name=lambda r: str(r["task"]))


def routerdc(root: Path) -> list[Example]:
    """RouterDC's 7B-model scores. ARC rows are CC BY-SA: used from ../shared only, never committed."""
    examples = []
    for path in sorted((root / "routerdc").glob("*.json")):
        name = path.stem.removesuffix("_train").removesuffix("_test").lower()
        rows = json.loads(path.read_text(encoding="utf-8"))
        examples += _scored_json(rows, ladder=ROUTERDC_LADDER, source="routerdc",
                                 task_name=functools.partial(_constant, name), weight=ROUTERDC_WEIGHT)
    return examples


def _constant(value: str, _row: dict[str, Any]) -> str:
    return value


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _weak(text: str, tier: int, group: str, task: str | None) -> Example:
    return Example(messages=_user(text), tier=tier, group=group, source=WEAK_SOURCE, task=task,
                   weight=WEAK_LABEL_WEIGHT)


def difficulty(root: Path) -> list[Example]:
    """Weak labels without outcomes (MIT / Apache-2.0): SVAMP and MATH 1-2 simple, 3 moderate, rest complex."""
    base = root / "difficulty"
    examples = [_weak(f"{r['Body'].strip()} {r['Question'].strip()}", 1, "svamp", "math")
                for r in _jsonl(base / "svamp_test.jsonl")]
    examples += [_weak(r["problem"], 1 if r["level"] <= 2 else 2 if r["level"] == 3 else 3, "math", "math")
                 for r in _jsonl(base / "math500_levels.jsonl")]
    examples += [_weak(r["problem"], 3, "aime", "math") for r in _jsonl(base / "aime24_test.jsonl")]
    examples += [_weak(r["prompt"], 3, "arena_hard", ARENA_TASKS.get(r["subcategory"]))
                 for r in _jsonl(base / "arena_hard_v2_question.jsonl")]
    examples += [_weak(r["prompt"], 3, "arena_hard", None) for r in _jsonl(base / "arena_hard_v0.1_question.jsonl")]
    return examples


SOURCES: dict[str, Source] = {"routerbench": routerbench, "dcrouter": dcrouter, "difficulty": difficulty,
                              "routerdc": routerdc}
COMMITTABLE = ("routerbench", "dcrouter", "difficulty")

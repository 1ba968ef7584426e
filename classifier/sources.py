"""Raw research data (../shared/data/routing) -> labelled examples, one loader per source.

The labelling rule is the data README's: along a price ladder of a cheap, a mid and a strong model,
the first model that got the prompt right gives the tier; none right is tier 1. `difficulty/` has no
per-model outcomes, so its rows are weak labels with a lower weight.
"""

from __future__ import annotations

import ast
import csv
import functools
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from classifier.dataset import WEAK_SOURCE, Example, tier_from_outcomes
from classifier.ladders import LADDERS, models_of

ROUTERBENCH_LADDER = LADDERS["routerbench"]
DCROUTER_LADDER = LADDERS["dcrouter"]
ROUTERDC_LADDER = LADDERS["routerdc"]
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
    "math_prealgebra": ("math", "math"), "crux": ("crux", "code"), "math-l5": ("math", "math"),
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
                outcomes = {m: s for m in models_of("routerbench") if (s := _score(row[m])) is not None}
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
        outcomes = {m: float(row["scores"][m]) for m in models_of(source) or ladder
                    if row["scores"].get(m) is not None}
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


def zeroeval(root: Path) -> list[Example]:
    """ZeroEval's CRUXEval and MATH level-5 outcomes for 43-51 models of 2024 (Apache-2.0; MIT prompts)."""
    examples = []
    for name in ("crux.csv", "math_l5.csv"):
        with (root / "zeroeval" / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                family, task = TASKS[row["family"]]
                outcomes = {m: s for m in models_of("zeroeval") if (s := _score(row.get(m, ""))) is not None}
                examples.append(Example(
                    messages=_user(row["prompt"]), group=family, source="zeroeval", task=task, outcomes=outcomes,
                    tier=tier_from_outcomes([outcomes.get(m) for m in LADDERS["zeroeval"]])))
    return examples


def _choices(question: str, options: str) -> str:
    letters = "ABCDEFGHIJ"
    listed = ast.literal_eval(options)
    return question.strip() + "\n\nOptions:\n" + "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(listed))


def mmlupro(root: Path) -> list[Example]:
    """MMLU-Pro's non-MMLU questions (STEM-Ez, TheoremQA, SciBench) with 29 models' outcomes (Apache-2.0).

    A family per question source (`mmlupro-stemez`, ...): the 14 subjects share one style, so holding out
    one subject would leave its siblings in training."""
    examples = []
    with gzip.open(root / "mmlupro" / "mmlupro_non_mmlu.csv.gz", "rt", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            outcomes = {m: float(row[m] or 0) for m in models_of("mmlupro")}  # a missing prediction is wrong
            family = "mmlupro-" + row["src"].split("-")[0].lower()
            task = "math" if row["category"] in ("math", "physics", "engineering", "chemistry") else "knowledge"
            examples.append(Example(
                messages=_user(_choices(row["question"], row["options"])), group=family, source="mmlupro",
                task=task, outcomes=outcomes, tier=tier_from_outcomes([outcomes.get(m) for m in LADDERS["mmlupro"]])))
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


SOURCES: dict[str, Source] = {"routerbench": routerbench, "dcrouter": dcrouter, "zeroeval": zeroeval,
                              "mmlupro": mmlupro, "difficulty": difficulty, "routerdc": routerdc}
COMMITTABLE = ("routerbench", "dcrouter", "zeroeval", "mmlupro", "difficulty")

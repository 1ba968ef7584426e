"""Labelled examples: the compact training file, operator JSONL, and the outcomes -> tier rule.

A row of any of these files is one JSON object holding a request (`prompt`, or `messages` with
optional `tools` and `response_format`) and either a `tier` (1-3) or per-model `outcomes`
({model: score in [0, 1]}) that `tier_from_outcomes` turns into a tier along a price ladder.
Optional fields: `group` (task family, for grouped splits), `source`, `task`, `weight`, `costs`
({model: USD for this prompt}).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

import numpy as np

CORRECT = 0.5  # an outcome score at or above this counts as "the model got it right"
WEAK_SOURCE = "difficulty"  # rows labelled by benchmark difficulty, not by outcomes along a price ladder


class DatasetError(ValueError):
    """Labelled data that cannot be used: a bad row (the message names the file and line), or a set
    with a single task family."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled request."""

    messages: tuple[Mapping[str, Any], ...]
    tier: int
    group: str
    source: str
    task: str | None = None
    weight: float = 1.0
    tools: tuple[Any, ...] | None = None
    response_format: Mapping[str, Any] | None = None
    outcomes: Mapping[str, float] = field(default_factory=dict)
    costs: Mapping[str, float] = field(default_factory=dict)
    ladder: tuple[str, str] | None = None
    """(cheaper, stronger) of the alias an exported outcome row comes from (set on those rows only)."""
    vector: np.ndarray | None = field(default=None, compare=False)
    """The request embedding already computed (an exported outcome row's): trained on as it is."""
    prompt_chars: int = 0
    """The length prior's input when `vector` is given (the messages may be empty then)."""

    @property
    def outcome_labelled(self) -> bool:
        """False for weak labels: they may train the difficulty head but do not set the probability scale."""
        return self.source != WEAK_SOURCE

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"source": self.source, "group": self.group, "tier": self.tier}
        if len(self.messages) == 1 and self.messages[0].get("role") == "user" and not self.tools:
            row["prompt"] = self.messages[0].get("content")
        else:
            row["messages"] = list(self.messages)
        optional = {"task": self.task, "tools": self.tools, "response_format": self.response_format,
                    "outcomes": dict(self.outcomes), "costs": dict(self.costs)}
        row.update({k: v for k, v in optional.items() if v})
        if self.weight != 1.0:
            row["weight"] = self.weight
        return row


def tier_from_outcomes(ladder: Sequence[float | None]) -> int:
    """Tier from the outcomes of a cheap -> mid -> strong ladder: the first model that is right.

    When none is right the cheapest choice is still the cheap model, so the tier is 1.
    """
    for index, outcome in enumerate(ladder[:3]):
        if outcome is not None and outcome >= CORRECT:
            return index + 1
    return 1


def messages_of(row: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """The conversation of a row: its `messages`, or its `prompt` as one user turn."""
    messages = row.get("messages")
    if isinstance(messages, list) and messages and all(isinstance(m, Mapping) for m in messages):
        return tuple(messages)
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        return ({"role": "user", "content": prompt},)
    raise DatasetError("needs a `prompt` string or a non-empty `messages` list of objects")


def example_from_row(row: Mapping[str, Any], *, ladder: Sequence[str] | None = None,
                     default_group: str = "operator", weight: float = 1.0) -> Example:
    """Parse one labelled row; `ladder` names the cheap, mid and strong models for `outcomes`."""
    if "vector" in row and "cheap" in row:
        raise DatasetError("an outcome row of `turnout learning export`: pass its file with --outcomes")
    messages = messages_of(row)
    outcomes = {str(k): float(v) for k, v in (row.get("outcomes") or {}).items() if v is not None}
    if "tier" in row:
        tier = int(row["tier"])
        if tier not in (1, 2, 3):
            raise DatasetError(f"tier must be 1, 2 or 3, got {row['tier']!r}")
    elif outcomes and ladder:
        tier = tier_from_outcomes([outcomes.get(name) for name in ladder])
    elif outcomes:
        raise DatasetError("rows with `outcomes` need a ladder of cheap,mid,strong model names")
    else:
        raise DatasetError("needs a `tier` or per-model `outcomes`")
    tools = row.get("tools")
    return Example(
        messages=messages, tier=tier, group=str(row.get("group", default_group)),
        source=str(row.get("source", default_group)), task=row.get("task"),
        weight=float(row.get("weight", weight)), tools=tuple(tools) if tools else None,
        response_format=row.get("response_format"), outcomes=outcomes,
        costs={str(k): float(v) for k, v in (row.get("costs") or {}).items()},
    )


def open_text(path: Path, mode: str = "rt") -> TextIO:
    if path.suffix == ".gz":
        return cast(TextIO, gzip.open(path, mode, encoding="utf-8"))
    return cast(TextIO, path.open(mode, encoding="utf-8"))


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL or JSONL.gz file."""
    number = 0
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise DatasetError(f"{path}:{number}: not UTF-8 text ({exc.reason})") from exc
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from exc
                if not isinstance(row, dict):
                    raise DatasetError(f"{path}:{number}: not a JSON object")
                yield number, row
        except EOFError as exc:  # a .gz file cut short
            raise DatasetError(f"{path}:{number + 1}: the file ends too early ({exc})") from exc


def read_examples(path: Path, *, ladder: Sequence[str] | None = None, weight: float = 1.0) -> list[Example]:
    """Labelled examples from a JSONL(.gz) file; errors name the file and line."""
    examples = []
    for number, row in read_rows(path):
        try:
            examples.append(example_from_row(row, ladder=ladder, weight=weight))
        except (DatasetError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}:{number}: {exc}") from exc
    return examples


def write_examples(path: Path, examples: Iterable[Example]) -> int:
    """Write examples as JSONL (gzip when the name ends in .gz, with a fixed mtime); return the count."""
    lines = [json.dumps(example.to_json(), ensure_ascii=False, sort_keys=True) for example in examples]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(data)
    return len(lines)

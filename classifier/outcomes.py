"""Outcome rows exported by `turnout learning export` as training examples (`classifier train --outcomes`).

A row is what the gateway learned about one request of an alias: the request embedding the router
scored it on (`vector`, base64 float32), its prompt length (`prompt_chars`), the alias's ladder
(`cheap`, `strong`), the models' outcomes in [0, 1], and the prompt text only when the policy's
`learning.keep_prompts` was on. Every head is fitted on the embedding and the prompt length, so a row
trains from its stored vector, the very vector served requests are scored on; a kept prompt only
feeds the task head's cues. A row whose vector does not fit the embedder (another dimension: the
request embedding changed since it was stored) is embedded again from its prompt, and refused, naming
`keep_prompts`, when it has none. A row without the cheaper model's outcome has no label: skipped.

Labels follow the training set's rule (`classifier.trainset`) along the row's own ladder: 1 when the
cheaper model failed and the stronger did well, 0 when the cheaper model did well.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from classifier.dataset import DatasetError, Example, read_rows, tier_from_outcomes


def _vector(row: Mapping[str, Any]) -> np.ndarray:
    try:
        return np.frombuffer(base64.b64decode(str(row["vector"]), validate=True), dtype=np.float32).copy()
    except (binascii.Error, ValueError) as exc:
        raise DatasetError(f"`vector` is not base64 float32: {exc}") from exc


def example_from_outcome_row(row: Mapping[str, Any], *, dimension: int, weight: float = 1.0) -> Example | None:
    """One exported row as an example (None: no outcome for the cheaper model, so no label)."""
    missing = [key for key in ("vector", "cheap", "strong", "outcomes", "prompt_chars") if key not in row]
    if missing:
        raise DatasetError(f"not an exported outcome row (no {', '.join(missing)}): "
                           "write it with `turnout learning export`")
    cheap, strong = str(row["cheap"]), str(row["strong"])
    outcomes = {str(k): float(v) for k, v in row["outcomes"].items() if v is not None}
    if cheap not in outcomes:
        return None
    alias = str(row.get("alias", "auto"))
    prompt = row.get("prompt")
    messages = ({"role": "user", "content": prompt},) if isinstance(prompt, str) and prompt else ()
    stored = _vector(row)
    vector: np.ndarray | None = stored
    if stored.shape[0] != dimension:
        if not messages:
            raise DatasetError(f"its vector has {stored.shape[0]} dimensions, the embedder {dimension}, and it "
                               "has no prompt to embed again: export rows with learning.keep_prompts on")
        vector = None  # the request embedding changed since: embed the kept prompt again
    return Example(messages=messages, tier=tier_from_outcomes([outcomes[cheap], None, outcomes.get(strong)]),
                   group=str(row.get("group", f"operator:{alias}")), source=f"operator:{alias}",
                   weight=float(row.get("weight", weight)), outcomes=outcomes, ladder=(cheap, strong),
                   vector=vector, prompt_chars=int(row["prompt_chars"]))


def read_outcome_rows(path: Path, *, dimension: int, weight: float = 1.0) -> tuple[list[Example], int]:
    """(examples, rows skipped for want of a label) from an exported JSONL file; errors name file and line."""
    examples, skipped = [], 0
    for number, row in read_rows(path):
        try:
            example = example_from_outcome_row(row, dimension=dimension, weight=weight)
        except (DatasetError, TypeError, ValueError, AttributeError) as exc:
            raise DatasetError(f"{path}:{number}: {exc}") from exc
        if example is None:
            skipped += 1
        else:
            examples.append(example)
    return examples, skipped

"""Score a JSONL file of requests: one {"prompt": ...} or {"messages": [...]} per line, other fields kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from classifier.dataset import DatasetError, messages_of, open_text, read_rows
from classifier.model import Classifier
from classifier.progress import progress

REQUEST_FIELDS = ("prompt", "messages", "tools", "response_format")


def _count_lines(path: Path) -> int:
    try:
        with open_text(path) as handle:
            return sum(1 for line in handle if line.strip())
    except (UnicodeDecodeError, EOFError):
        return 0  # reading the rows names the problem and its line


def classify_file(classifier: Classifier, source: Path, target: Path, *, uncertainty_margin: float = 0.5,
                  show_progress: bool = True) -> int:
    """Write one result object per input line (input fields other than the request kept); return the count."""
    rows = read_rows(source)
    items = progress(rows, total=_count_lines(source), label="classify") if show_progress else rows
    count = 0
    with open_text(target, "wt") as out:
        for number, row in items:
            try:
                messages = messages_of(row)
            except DatasetError as exc:
                raise DatasetError(f"{source}:{number}: {exc}") from exc
            result = classifier.classify(messages, tools=row.get("tools"), response_format=row.get("response_format"),
                                         uncertainty_margin=uncertainty_margin)
            record: dict[str, Any] = {k: v for k, v in row.items() if k not in REQUEST_FIELDS}
            record.update(tier=int(result.tier), score=round(result.score, 6),
                          probabilities=[round(p, 6) for p in result.probabilities], task=result.task.value,
                          uncertain=result.uncertain)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count

"""The model card written beside the artifact: data, label counts, held-out metrics, versions, hash."""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from classifier.dataset import Example
from classifier.evaluation import EvalReport, protocol, render
from classifier.features import DENSE_NAMES
from classifier.ordinal import Ordinal
from classifier.training import TrainConfig


def _versions() -> str:
    import numpy
    import scipy  # type: ignore[import-untyped]
    import sklearn

    return (f"python {platform.python_version()}, numpy {numpy.__version__}, scipy {scipy.__version__}, "
            f"scikit-learn {sklearn.__version__}")


def _rounded(ordinal: Ordinal) -> dict[str, object]:
    return {k: round(v, 4) if isinstance(v, float) else [round(p, 4) for p in v] for k, v in ordinal.to_json().items()}


def _label_table(examples: Sequence[Example]) -> list[str]:
    counts = Counter((e.source, e.group, e.tier) for e in examples)
    keys = sorted({(source, group) for source, group, _ in counts})
    lines = ["| source | task family | tier 1 | tier 2 | tier 3 | weight |", "|---|---|---|---|---|---|"]
    weight = {(e.source, e.group): e.weight for e in examples}
    for source, group in keys:
        tiers = " | ".join(str(counts[(source, group, t)]) for t in (1, 2, 3))
        lines.append(f"| {source} | {group} | {tiers} | {weight[(source, group)]:g} |")
    total = Counter(e.tier for e in examples)
    lines.append(f"| **all** | | {total[1]} | {total[2]} | {total[3]} | |")
    return lines


def write_model_card(path: Path, *, examples: Sequence[Example], used: Sequence[str], report: EvalReport,
                     config: TrainConfig, ordinal: Ordinal, vocab_size: int,
                     sha256: str, seconds: float, folds: int, latency: str) -> None:
    lines = [
        "# Model card: Turnout complexity classifier", "",
        "Written by `turnout classifier train`; do not edit by hand. Design notes: `classifier/README.md`.", "",
        "## Artifact", "",
        "- file: `classifier.npz` (numpy arrays + JSON metadata, loaded with `allow_pickle=False`)",
        f"- sha256: `{sha256}` (also in `classifier.npz.sha256`; the loader refuses a mismatch)",
        f"- model: difficulty head = logistic regression (need more than the cheap model) over the "
        f"{len(DENSE_NAMES)} dense conversation features; ordinal calibration on the held-out logits of "
        f"outcome-labelled rows "
        f"`{_rounded(ordinal)}`;"
        f" score = P(tier >= 2); tier = argmax P(tier) / prior. Task head = logistic regression over "
        f"{vocab_size} word/bigram keys and the same dense features, after clear cues.",
        f"- config: `{asdict(config)}`",
        f"- library versions: {_versions()}",
        f"- training time: {seconds:.1f} s on {platform.machine()} ({platform.system()})",
        f"- serve-time cost, measured after training: {latency}", "",
        "## Data", "",
        *[f"- {u}" for u in used], "",
        "Tiers: along a cheap -> mid -> strong price ladder the first model that got the prompt right gives the "
        "tier; none right is tier 1. `difficulty` rows are weak labels (no outcomes) with a lower weight.", "",
        *_label_table(examples), "",
        f"## Held-out metrics ({protocol(folds)}: whole task families unseen in training)", "",
        render(report),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

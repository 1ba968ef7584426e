"""The model card written beside the artifact: data, held-out comparison, chosen head, versions, hash."""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from classifier.dataset import Example
from classifier.evaluation import EvalReport, protocol
from classifier.ladders import LADDERS, PAIRS
from classifier.ordinal import Ordinal
from classifier.report import render


def _versions() -> str:
    import numpy
    import sklearn

    return f"python {platform.python_version()}, numpy {numpy.__version__}, scikit-learn {sklearn.__version__}"


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
                     chosen: str, ordinal: Ordinal, sha256: str, seconds: float, folds: int, latency: str) -> None:
    ladders = [f"- {source}: ladder {' -> '.join(LADDERS[source])}; pairs "
               + "; ".join(f"{c} > {s}" for c, s in PAIRS.get(source, ())) for source in sorted(PAIRS)]
    lines = [
        "# Model card: Turnout learned router (complexity classifier)", "",
        "Written by `turnout classifier train`; do not edit by hand. Design notes: `classifier/README.md`.", "",
        "## Artifact", "",
        "- file: `classifier.npz` (numpy arrays + JSON metadata, loaded with `allow_pickle=False`)",
        f"- sha256: `{sha256}` (also in `classifier.npz.sha256`; the loader refuses a mismatch)",
        f"- head: **{chosen}**, picked by the selection rule in classifier/README.md from "
        f"{len(report.candidates)} candidates; inputs: the 256-d static request embedding of the last user turn "
        "and log prompt characters",
        f"- score = P(the cheaper model is not good enough), two Platt maps on the head's held-out values "
        f"`{_rounded(ordinal)}`; tier = argmax P(tier) / prior",
        "- task: clear cues, then a linear head on the embedding",
        f"- library versions: {_versions()}",
        f"- training time: {seconds:.1f} s on {platform.machine()} ({platform.system()})",
        f"- serve-time cost, measured after training: {latency}",
        "- cost/quality curve: `cost_quality.png` beside this card", "",
        "## Data", "",
        *[f"- {u}" for u in used], "",
        "Targets: for each (cheaper, stronger) pair of a source, 1 when the cheaper model is wrong and the stronger "
        "right, 0 when the cheaper one is right, left out when both are wrong; a row's target is the mean over its "
        "pairs. Tiers (for the calibration maps): the first model of the three-model ladder that got it right.", "",
        *ladders, "",
        *_label_table(examples), "",
        f"## Held-out metrics ({protocol(folds)}: whole task families unseen in training)", "",
        render(report),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

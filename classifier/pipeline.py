"""Train and evaluate end to end: labelled data -> embeddings -> leave-one-family-out comparison ->
the head the selection rule picks, fitted on every row -> verified artifact, model card, curve PNG."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from classifier import artifact
from classifier.dataset import DatasetError, Example, read_examples
from classifier.evaluation import EvalReport, calibrated, evaluate
from classifier.model import DEFAULT_DATA, DEFAULT_NEIGHBOURS, Classifier, Weights
from classifier.outcomes import read_outcome_rows
from classifier.progress import step
from classifier.request import TextEmbedder
from classifier.scorer import quantile_grid
from classifier.sources import SOURCES
from classifier.training import LEARNED_TASKS, TrainConfig, fit_head, fit_task_head
from classifier.trainset import TrainSet, prepare

PACKAGE = Path(__file__).parent
DEFAULT_OUTPUT = PACKAGE / "artifacts"
ARTIFACT_NAME = "classifier.npz"
CURVE_NAME = "cost_quality.png"


@dataclass(frozen=True, slots=True)
class DataSpec:
    """Where training rows come from: the committed set, operator files, optional RouterDC from ../shared;
    minus the task families (`group`, shell patterns such as `mmlupro-*`) in `exclude_groups`."""

    default_data: bool = True
    extra: tuple[Path, ...] = ()
    ladder: tuple[str, ...] | None = None
    routerdc_root: Path | None = None
    exclude_groups: tuple[str, ...] = ()
    outcomes: tuple[Path, ...] = ()
    """Outcome rows of `turnout learning export` (`classifier.outcomes`): each brings its own embedding."""
    outcome_share: float = 0.5
    """The share of the fit's total weight the outcome rows carry (the task families share the rest)."""

    def excluded(self, group: str) -> bool:
        return any(fnmatch.fnmatchcase(group, pattern) for pattern in self.exclude_groups)

    def load(self, embedder: TextEmbedder | None = None) -> tuple[list[Example], list[str]]:
        """The rows and a line per data file used; `embedder` (default: the shipped one) is what the
        outcome rows' vectors must fit."""
        examples: list[Example] = []
        used: list[str] = []
        if self.default_data:
            examples += read_examples(DEFAULT_DATA)
            used.append(f"{DEFAULT_DATA.relative_to(PACKAGE.parent)} (sha256 {artifact.sha256_of(DEFAULT_DATA)})")
        for path in self.extra:
            examples += read_examples(path, ladder=self.ladder)
            used.append(f"{path} (sha256 {artifact.sha256_of(path)})")
        for path in self.outcomes:
            rows, skipped = read_outcome_rows(path, dimension=dimension_of(embedder or default_embedder()))
            examples += rows
            used.append(f"{path} (sha256 {artifact.sha256_of(path)}): {len(rows)} outcome rows"
                        + (f", {skipped} without the cheaper model's outcome left out" if skipped else ""))
        if self.routerdc_root is not None:
            examples += SOURCES["routerdc"](self.routerdc_root)
            used.append(f"RouterDC scores from {self.routerdc_root}/routerdc (not redistributed)")
        if self.exclude_groups:
            kept = [e for e in examples if not self.excluded(e.group)]
            if len(kept) == len(examples):
                raise ValueError(f"--exclude-group {', '.join(self.exclude_groups)} matches no task family")
            used.append(f"without the task families {', '.join(self.exclude_groups)} "
                        f"({len(examples) - len(kept)} rows left out)")
            examples = kept
        if not examples:
            raise ValueError("no training rows: pass --data or keep the default data set")
        if len({e.group for e in examples}) < 2:
            raise DatasetError(f"one task family ({examples[0].group}) cannot be trained on: every family is "
                               "held out in turn, so add the committed data (drop --no-default-data) or --data")
        return examples, used


@dataclass(frozen=True, slots=True)
class TrainResult:
    artifact: Path
    sha256: str
    report: EvalReport
    seconds: float


def one_blas_thread() -> AbstractContextManager[object]:
    """BLAS thread pools spin badly on a shared, busy machine (60x slower fits measured); one thread is fast."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    limits: AbstractContextManager[object] = threadpool_limits(limits=1)
    return limits


def default_embedder() -> TextEmbedder:
    from embedding import StaticEmbedder

    return StaticEmbedder.load()


def write_neighbours(embedder: TextEmbedder | None = None, path: Path = DEFAULT_NEIGHBOURS) -> str:
    """The explainer's index of the committed training prompts (`classifier.neighbours`); its sha256."""
    from classifier.neighbours import Neighbours

    step(f"embedding the training prompts of {DEFAULT_DATA.name} for the explainer's index")
    with one_blas_thread():
        index = Neighbours.build(embedder or default_embedder(), read_examples(DEFAULT_DATA))
    digest = index.save(path, data_sha256=artifact.sha256_of(DEFAULT_DATA))
    step(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {digest})")
    return digest


def dimension_of(embedder: TextEmbedder) -> int:
    dimension = getattr(embedder, "dimension", None)
    return int(dimension) if dimension else int(embedder.encode(["dimension"]).shape[1])


def embedder_meta(embedder: TextEmbedder) -> dict[str, Any]:
    meta = getattr(embedder, "meta", {}) or {}
    scalars = {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}
    return {"class": type(embedder).__name__, "dimension": int(getattr(embedder, "dimension", 0)), **scalars}


def run_eval(examples: Sequence[Example], *, folds: int, embedder: TextEmbedder | None = None,
             names: Sequence[str] | None = None, show_progress: bool = True,
             outcome_share: float = 0.5) -> tuple[EvalReport, TrainSet]:
    """Every candidate's held-out figures and the selection rule's choice."""
    with one_blas_thread():
        step(f"embedding {len(examples)} training prompts")
        data = prepare(examples, embedder or default_embedder(), outcome_share=outcome_share)
        return evaluate(data, names, folds=folds, show_progress=show_progress), data


def shipped_head() -> str:
    """The head of the shipped artifact (what `--exclude-group` fits when no `--head` is named)."""
    _, meta = artifact.load(DEFAULT_OUTPUT / ARTIFACT_NAME)
    return str(meta["chosen"])


def train(spec: DataSpec, config: TrainConfig, *, output: Path = DEFAULT_OUTPUT, folds: int = 0,
          embedder: TextEmbedder | None = None, show_progress: bool = True) -> TrainResult:
    """Compare under leave-one-family-out, fit the chosen head on all rows, calibrate it on its held-out
    values, and write the artifact, its model card and the cost/quality curve.

    With `spec.exclude_groups` or `spec.outcomes` the candidates are not compared again: only the named
    head (default: the shipped artifact's) is run through the held-out families (for its calibration),
    then fitted."""
    from classifier.modelcard import write_model_card
    from classifier.report import write_curve

    start = time.monotonic()
    embedder = embedder or default_embedder()
    examples, used = spec.load(embedder)
    step(f"training on {len(examples)} rows from {len(used)} data file(s)")
    names: list[str] | None = None
    if spec.exclude_groups or spec.outcomes:
        head = config.head or shipped_head()
        config, names = replace(config, head=head), [head]
    report, data = run_eval(examples, folds=folds, embedder=embedder, names=names, show_progress=show_progress,
                            outcome_share=spec.outcome_share)
    chosen = config.head or report.chosen
    ordinal = report.ordinal if chosen == report.chosen else calibrated(report.values[chosen], data, folds)[1]
    step(f"fitting {chosen!r} on all rows")
    with one_blas_thread():
        scorer = fit_head(chosen, data)
        task_w, task_b = fit_task_head(data, config)
    weights = Weights(scorer=scorer, ordinal=ordinal, task_w=task_w, task_b=task_b, tasks=LEARNED_TASKS,
                      length_grid=quantile_grid(data.log_chars))
    meta = {"format": weights.format_version, "head": weights.head_meta(), "chosen": chosen,
            "ordinal": ordinal.to_json(), "tasks": [t.value for t in LEARNED_TASKS],
            "embedder": embedder_meta(embedder), "config": asdict(config)}
    path = output / ARTIFACT_NAME
    digest = artifact.save(path, {k: v.astype("float32") for k, v in weights.arrays().items()}, meta)
    write_curve(report, output / CURVE_NAME)
    seconds = time.monotonic() - start
    from classifier.latency import measure

    latency = measure(Classifier.from_file(path, embedder=embedder), calls=2000).describe()
    write_model_card(output / "MODEL_CARD.md", examples=examples, used=used, report=report, chosen=chosen,
                     ordinal=ordinal, sha256=digest, seconds=seconds, folds=folds, latency=latency)
    step(f"wrote {path} (sha256 {digest}) in {seconds:.1f}s")
    if output.resolve() == DEFAULT_OUTPUT.resolve():  # the shipped explainer's index goes with the shipped head
        write_neighbours(embedder)
    return TrainResult(artifact=path, sha256=digest, report=report, seconds=seconds)

"""Train and evaluate end to end: labelled data -> grouped held-out metrics -> shipped artifact + model card."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path

from classifier import artifact
from classifier.dataset import Example, read_examples
from classifier.evaluation import EvalReport, HeldOut, evaluate, held_out
from classifier.latency import measure
from classifier.model import FORMAT_VERSION, Classifier
from classifier.modelcard import write_model_card
from classifier.progress import step
from classifier.sources import SOURCES
from classifier.training import Featurized, TrainConfig, featurize, fit

PACKAGE = Path(__file__).parent
DEFAULT_DATA = PACKAGE / "data" / "routing.jsonl.gz"
DEFAULT_OUTPUT = PACKAGE / "artifacts"
ARTIFACT_NAME = "classifier.npz"


@dataclass(frozen=True, slots=True)
class DataSpec:
    """Where training rows come from: the committed set, operator files, optional RouterDC from ../shared."""

    default_data: bool = True
    extra: tuple[Path, ...] = ()
    ladder: tuple[str, ...] | None = None
    routerdc_root: Path | None = None

    def load(self) -> tuple[list[Example], list[str]]:
        examples: list[Example] = []
        used: list[str] = []
        if self.default_data:
            examples += read_examples(DEFAULT_DATA)
            used.append(f"{DEFAULT_DATA.relative_to(PACKAGE.parent)} (sha256 {artifact.sha256_of(DEFAULT_DATA)})")
        for path in self.extra:
            examples += read_examples(path, ladder=self.ladder)
            used.append(f"{path} (sha256 {artifact.sha256_of(path)})")
        if self.routerdc_root is not None:
            examples += SOURCES["routerdc"](self.routerdc_root)
            used.append(f"RouterDC scores from {self.routerdc_root}/routerdc (not redistributed)")
        if not examples:
            raise ValueError("no training rows: pass --data or keep the default data set")
        return examples, used


@dataclass(frozen=True, slots=True)
class TrainResult:
    artifact: Path
    sha256: str
    report: EvalReport
    seconds: float


def _one_blas_thread() -> AbstractContextManager[object]:
    """BLAS thread pools spin badly on a shared, busy machine (60x slower fits measured); one thread is fast."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    limits: AbstractContextManager[object] = threadpool_limits(limits=1)
    return limits


def run_eval(examples: Sequence[Example], config: TrainConfig, *, folds: int,
             show_progress: bool = True) -> tuple[EvalReport, HeldOut, Featurized]:
    """Grouped held-out predictions for every row, and the report built from them."""
    with _one_blas_thread():
        feat = featurize(examples, show_progress=show_progress)
        out = held_out(feat, config, folds=folds, show_progress=show_progress)
        return evaluate(examples, feat, out), out, feat


def train(spec: DataSpec, config: TrainConfig, *, output: Path = DEFAULT_OUTPUT, folds: int = 0,
          show_progress: bool = True) -> TrainResult:
    """Fit on all rows, with the calibration map and the metrics taken from grouped held-out predictions."""
    start = time.monotonic()
    examples, used = spec.load()
    step(f"training on {len(examples)} rows from {len(used)} data file(s)")
    report, out, feat = run_eval(examples, config, folds=folds, show_progress=show_progress)
    step("fitting the final model on all rows")
    with _one_blas_thread():
        weights, vocab = fit(feat, config, ordinal=out.ordinal)
    meta = {"format": FORMAT_VERSION, "vocab": vocab, "tasks": [t.value for t in weights.tasks],
            "ordinal": out.ordinal.to_json(),
            "config": asdict(config)}
    arrays = {k: v.astype("float32") for k, v in weights.arrays().items()}
    path = output / ARTIFACT_NAME
    digest = artifact.save(path, arrays, meta)
    seconds = time.monotonic() - start
    latency = measure(Classifier.from_file(path), calls=1000).describe()
    write_model_card(output / "MODEL_CARD.md", examples=examples, used=used, report=report, config=config,
                     ordinal=out.ordinal, vocab_size=len(vocab), sha256=digest, seconds=seconds, folds=folds,
                     latency=latency)
    step(f"wrote {path} (sha256 {digest}) in {seconds:.1f}s")
    return TrainResult(artifact=path, sha256=digest, report=report, seconds=seconds)

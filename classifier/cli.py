"""Command line: `classifier train|eval|build-data|neighbours` and `classify`, registered on the gateway CLI's parser.

scikit-learn and the training modules are imported inside the commands, so `turnout --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from classifier.model import DEFAULT_ARTIFACT


def _fold_count(text: str) -> int:
    folds = int(text)
    if folds < 0:
        raise argparse.ArgumentTypeError("0 (leave one family out) or a positive fold count")
    return folds


def _share(text: str) -> float:
    share = float(text)
    if not 0.0 < share < 1.0:
        raise argparse.ArgumentTypeError("a share strictly between 0 and 1")
    return share


def _data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, action="append", default=[], metavar="JSONL",
                        help="extra labelled JSONL(.gz): prompt or messages plus tier or per-model outcomes "
                             "(repeatable)")
    parser.add_argument("--outcomes", type=Path, action="append", default=[], metavar="JSONL",
                        help="outcome rows written by `turnout learning export` (repeatable): trained on their "
                             "stored request embeddings, labelled along their alias's ladder; prompts are not "
                             "needed (learning.keep_prompts)")
    parser.add_argument("--outcomes-share", type=_share, default=0.5, metavar="S",
                        help="the share of the fit's weight the --outcomes rows carry against the task families "
                             "of the other data (default 0.5: half of it is your own traffic)")
    parser.add_argument("--ladder", help="cheap,mid,strong model names for --data rows labelled by `outcomes`")
    parser.add_argument("--no-default-data", action="store_true",
                        help="leave out the committed training set (classifier/data/routing.jsonl.gz)")
    parser.add_argument("--routerdc", type=Path, metavar="DIR",
                        help="also use RouterDC scores from DIR/routerdc (e.g. ../shared/data/routing); "
                             "CC BY-SA rows, not redistributed, so the shipped artifact is built without them")
    parser.add_argument("--folds", type=_fold_count, default=0, metavar="K",
                        help="held-out protocol: 0 (default) = leave one task family out, each scored by a model "
                             "fitted on all the others; K > 0 = task families dealt into K grouped folds")
    parser.add_argument("--exclude-group", action="append", default=[], metavar="GROUP",
                        help="leave this task family out of the rows (a shell pattern on `group`, e.g. crux, "
                             "'mmlupro-*'; repeatable): a model that never saw it, to test it on it")
    parser.add_argument("--seed", type=int, default=0)


def _spec(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from classifier.pipeline import DataSpec

    ladder = tuple(args.ladder.split(",")) if args.ladder else None
    if ladder is not None and len(ladder) != 3:
        raise SystemExit("--ladder needs three comma-separated model names: cheap,mid,strong")
    return DataSpec(default_data=not args.no_default_data, extra=tuple(args.data), ladder=ladder,
                    routerdc_root=args.routerdc, exclude_groups=tuple(args.exclude_group),
                    outcomes=tuple(args.outcomes), outcome_share=args.outcomes_share)


def cmd_train(args: argparse.Namespace) -> int:
    from classifier.dataset import DatasetError
    from classifier.pipeline import train
    from classifier.training import TrainConfig

    spec = _spec(args)
    for flag, used in (("--exclude-group", spec.exclude_groups), ("--outcomes", spec.outcomes)):
        if used and args.output.resolve() == DEFAULT_ARTIFACT.parent.resolve():
            raise SystemExit(f"{flag} needs an --output directory: it must not replace the shipped artifact")
    try:
        result = train(spec, TrainConfig(head=args.head, seed=args.seed), output=args.output, folds=args.folds)
    except DatasetError as exc:
        print(f"classifier train: {exc}", file=sys.stderr)
        return 2
    print(f"artifact {result.artifact} sha256 {result.sha256} ({result.seconds:.1f}s), head {result.report.chosen!r}")
    print("to serve it, name it in the policy (applied on reload: POST /admin/reload, SIGHUP or the file watch):\n"
          f"classifier:\n  artifact: {result.artifact.resolve()}\n  sha256: {result.sha256}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from classifier.pipeline import run_eval
    from classifier.report import render, write_curve

    spec = _spec(args)
    examples, _ = spec.load()
    report, _ = run_eval(examples, folds=args.folds, outcome_share=spec.outcome_share)
    print(render(report))
    write_curve(report, args.curve)
    print(f"cost/quality curve: {args.curve}")
    return 0


def cmd_build_data(args: argparse.Namespace) -> int:
    from classifier.dataset import write_examples
    from classifier.sources import COMMITTABLE, SOURCES

    examples = [e for name in COMMITTABLE for e in SOURCES[name](args.shared)]
    count = write_examples(args.output, examples)
    print(f"wrote {count} rows to {args.output} ({args.output.stat().st_size / 1e6:.2f} MB)")
    return 0


def cmd_neighbours(args: argparse.Namespace) -> int:
    from classifier.pipeline import write_neighbours

    write_neighbours(path=args.output)
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from classifier.artifact import ArtifactError
    from classifier.batch import classify_file
    from classifier.dataset import DatasetError
    from classifier.model import Classifier

    start = time.monotonic()
    try:
        classifier = Classifier.from_file(args.artifact, expected_sha256=args.sha256)
        count = classify_file(classifier, args.input, args.output, uncertainty_margin=args.margin)
    except (ArtifactError, DatasetError, OSError) as exc:
        print(f"classify: {exc}", file=sys.stderr)
        return 2
    print(f"classified {count} requests in {time.monotonic() - start:.1f}s -> {args.output}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `classifier {train,eval,build-data}` and `classify` to a CLI's subcommands."""
    group = subparsers.add_parser("classifier", help="train and evaluate the learned router (complexity classifier)")
    commands = group.add_subparsers(dest="classifier_command", required=True)

    train = commands.add_parser("train", help="rebuild the shipped artifact and its model card, or retrain it "
                                              "with exported outcome rows (--outcomes) into --output")
    _data_args(train)
    train.add_argument("--output", type=Path, default=DEFAULT_ARTIFACT.parent, help="artifact directory")
    train.add_argument("--head", help="ship this candidate head instead of the selection rule's choice "
                                      "(with --exclude-group or --outcomes: only this head is fitted; default "
                                      "the shipped one's)")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser("eval", help="leave-one-family-out table of every candidate, and the curve PNG")
    _data_args(evaluate)
    evaluate.add_argument("--curve", type=Path, default=Path("cost_quality.png"),
                          help="where to write the cost/quality curve (router vs length vs random)")
    evaluate.set_defaults(func=cmd_eval)

    build = commands.add_parser("build-data", help="derive the committed training set from the raw data")
    build.add_argument("--shared", type=Path, default=Path("../shared/data/routing"))
    build.add_argument("--output", type=Path, default=DEFAULT_ARTIFACT.parent.parent / "data" / "routing.jsonl.gz")
    build.set_defaults(func=cmd_build_data)

    index = commands.add_parser("neighbours", help="rebuild the explainer's index of the training prompts "
                                                   "(`train` writes it too)")
    index.add_argument("--output", type=Path, default=DEFAULT_ARTIFACT.parent / "neighbours.npz")
    index.set_defaults(func=cmd_neighbours)

    classify = subparsers.add_parser("classify", help="score a JSONL file of prompts or conversations")
    classify.add_argument("--input", type=Path, required=True, help="one {prompt} or {messages} object per line")
    classify.add_argument("--output", type=Path, required=True, help="JSONL results, other input fields kept")
    classify.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT)
    classify.add_argument("--sha256", help="expected artifact sha256 (default: the one recorded beside it)")
    classify.add_argument("--margin", type=float, default=0.5, help="uncertain when the top probability is below")
    classify.set_defaults(func=cmd_classify)

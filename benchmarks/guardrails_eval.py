"""Evaluation of the guardrails: the prompt-injection detector on the hand-written held-out set,
cross-validation on the (templated) training set, and the cost of each check per request.

    .venv/bin/python benchmarks/guardrails_eval.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from gateway.guardrails.injection import EVAL, TRAIN, InjectionClassifier, judge, load_examples, rule_hits
from gateway.guardrails.pii import find_pii
from gateway.guardrails.stream import StreamRedactor


def metrics(predicted: list[bool], labels: list[int]) -> str:
    tp = sum(p and y for p, y in zip(predicted, labels, strict=True))
    fp = sum(p and not y for p, y in zip(predicted, labels, strict=True))
    fn = sum(not p and y for p, y in zip(predicted, labels, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    negatives = len(labels) - sum(labels)
    return (f"precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  "
            f"false-positive rate {fp / negatives:.3f}  (tp {tp}, fp {fp}, fn {fn})")


def cross_validation(texts: list[str], labels: list[int], folds: int = 5) -> float:
    """Accuracy of 5-fold CV of the same model on the training set (templated: an optimistic figure)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import FeatureUnion, make_pipeline

    model = make_pipeline(FeatureUnion([
        ("w", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2))]),
        LogisticRegression(C=4.0, max_iter=2000))
    return float(cross_val_score(model, texts, labels, cv=folds).mean())


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median microseconds per call."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def main() -> None:
    train_x, train_y = load_examples(TRAIN)
    eval_x, eval_y = load_examples(EVAL)
    print(f"training set: {len(train_x)} examples ({sum(train_y)} injections), templated, shipped in {TRAIN.name}")
    print(f"held-out set: {len(eval_x)} examples ({sum(eval_y)} injections), hand-written, {EVAL.name}\n")

    start = time.perf_counter()
    classifier = InjectionClassifier()
    print(f"fit (sklearn imported and model trained): {time.perf_counter() - start:.2f} s")
    print(f"5-fold CV accuracy on the training set: {cross_validation(train_x, train_y):.3f} (optimistic)\n")

    print("held-out evaluation")
    print(f"  rules only            {metrics([bool(rule_hits(t)) for t in eval_x], eval_y)}")
    scores = [classifier.score(t) for t in eval_x]
    print(f"  classifier only @0.5  {metrics([s >= 0.5 for s in scores], eval_y)}")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        predicted = [judge(t, classifier, threshold).injected for t in eval_x]
        print(f"  rules + clf @{threshold:.1f}     {metrics(predicted, eval_y)}")

    short = eval_x[0]
    long_text = " ".join(eval_x) * 2
    answer = ("The meeting is at 10. Contact jane@example.org or +1 415 555 0132 for the card 4111 1111 1111 1111. "
              * 40)
    print("\ncost per call (median)")
    print(f"  injection score, {len(short)} chars     {timed(lambda: classifier.score(short), 500):8.1f} us")
    print(f"  injection score, {len(long_text[:2000])} chars    "
          f"{timed(lambda: classifier.score(long_text[:2000]), 200):8.1f} us")
    print(f"  PII scan, {len(answer)} chars          {timed(lambda: find_pii(answer), 200):8.1f} us")

    def stream() -> None:
        redactor = StreamRedactor()
        for i in range(0, len(answer), 8):
            redactor.feed(answer[i:i + 8])
        redactor.flush()

    per_stream = timed(stream, 20)
    chunks = len(answer) // 8
    print(f"  streaming redaction, {chunks} chunks    {per_stream / chunks:8.1f} us per chunk "
          f"({per_stream / 1000:.1f} ms per answer)")


if __name__ == "__main__":
    main()

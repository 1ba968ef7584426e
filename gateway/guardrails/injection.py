"""Prompt-injection detection: hand-written rules, then a small scikit-learn classifier
(TF-IDF over words and character n-grams, logistic regression) trained at start-up on the shipped
data in `gateway/guardrails/data/` (a fraction of a second; no pickled model is shipped).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

DATA = Path(__file__).resolve().parent / "data"
TRAIN = DATA / "injection_train.jsonl"
EVAL = DATA / "injection_eval.jsonl"

_RULES: dict[str, re.Pattern[str]] = {name: re.compile(rx, re.IGNORECASE) for name, rx in {
    "ignore_instructions": r"\b(ignore|disregard|forget|discard|abandon|drop|override)\b[^.\n]{0,40}\b(previous|prior|"
                           r"above|earlier|preceding|original|all|any|your|the)\b[^.\n]{0,20}\b(instructions?|rules|"
                           r"guidelines|directions|prompts?|constraints|guardrails|programming|safeguards)\b",
    "reveal_prompt": r"\b(reveal|print|show|output|repeat|leak|dump|share|copy)\b[^.\n]{0,40}\b(system (prompt|message|"
                     r"instructions)|initial (prompt|instructions)|hidden (prompt|instructions|message)|"
                     r"(your|the) (instructions|prompt) (above|verbatim|word for word))",
    "persona_jailbreak": r"\b(you are now|from now on,? you are|act as|pretend (you are|to be)|enable|enter)\b"
                         r"[^.\n]{0,40}\b(DAN|jailbr\w+|developer mode|no (restrictions|rules|filters|guidelines)|"
                         r"unrestricted|unfiltered|without (any )?(restrictions|rules|filters|guidelines))",
    "role_marker": r"(<\|im_start\|>\s*system|\[INST\]\s*<<SYS>>|^\s*#{2,}\s*system\s*:|\bsystem override\b|"
                   r"\bbegin (new|admin) (instructions|input)\b|\bend of (user|document)\b[^.\n]{0,20}\b(new|admin)\b)",
    "restrictions_lifted": r"\b(restrictions|guardrails|safeguards|content (rules|policy)|moderation|filters)\b"
                           r"[^.\n]{0,20}\b(are|is) (now )?(lifted|removed|disabled|off|void)\b",
}.items()}


def rule_hits(text: str) -> list[str]:
    """The names of the rules `text` matches."""
    return [name for name, rx in _RULES.items() if rx.search(text)]


class Scorer(Protocol):
    def score(self, text: str) -> float:
        """The probability that `text` is a prompt injection."""
        ...


def load_examples(path: Path) -> tuple[list[str], list[int]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


class _Block:
    """One fitted TF-IDF block, scored in plain Python: analyzer, then sublinear tf x idf, l2-normalised,
    dotted with that block's logistic-regression weights (sklearn's per-call overhead is ~3 ms)."""

    def __init__(self, vectorizer: Any, coef: Any, offset: int) -> None:
        self._analyze = vectorizer.build_analyzer()
        self._weights: dict[str, tuple[float, float]] = {
            term: (float(vectorizer.idf_[i]), float(coef[offset + i])) for term, i in vectorizer.vocabulary_.items()}

    def dot(self, text: str) -> float:
        counts: dict[str, int] = {}
        for gram in self._analyze(text):
            if gram in self._weights:
                counts[gram] = counts.get(gram, 0) + 1
        norm = total = 0.0
        for gram, n in counts.items():
            idf, w = self._weights[gram]
            value = (1.0 + math.log(n)) * idf
            norm += value * value
            total += value * w
        return total / math.sqrt(norm) if norm else 0.0


class InjectionClassifier:
    """Fit on construction from `path` (call it in a thread: importing sklearn and fitting take ~2 s)."""

    def __init__(self, path: Path = TRAIN) -> None:
        from scipy.sparse import hstack  # type: ignore[import-untyped]
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts, labels = load_examples(path)
        vectorizers = [TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                       TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)]
        features = hstack([v.fit_transform(texts) for v in vectorizers]).tocsr()
        model = LogisticRegression(C=4.0, max_iter=2000).fit(features, labels)
        self._intercept = float(model.intercept_[0])
        self._blocks: list[_Block] = []
        offset = 0
        for v in vectorizers:
            self._blocks.append(_Block(v, model.coef_[0], offset))
            offset += len(v.vocabulary_)

    def score(self, text: str) -> float:
        z = self._intercept + sum(block.dot(text[:4000]) for block in self._blocks)
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True, slots=True)
class InjectionVerdict:
    injected: bool
    score: float
    rules: tuple[str, ...]


def judge(text: str, scorer: Scorer | None, threshold: float) -> InjectionVerdict:
    """Rules first (a hit is an injection, score 1.0); otherwise the classifier's probability."""
    hits = tuple(rule_hits(text))
    if hits:
        return InjectionVerdict(injected=True, score=1.0, rules=hits)
    score = scorer.score(text) if scorer is not None else 0.0
    return InjectionVerdict(injected=score >= threshold, score=score, rules=())

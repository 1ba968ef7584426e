"""The final fit (scikit-learn, train command only): the chosen head on every row, and the task head.

Imported only by the train and eval commands; serving (`classifier.model`) needs numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifier.evaluation import LENGTH
from classifier.heads import CANDIDATES
from classifier.scorer import Linear, Scorer
from classifier.trainset import TrainSet
from classifier.types import Task

LEARNED_TASKS = (Task.CODE, Task.MATH, Task.REASONING, Task.KNOWLEDGE, Task.CREATIVE, Task.CHAT)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What to fit; the head is picked by the selection rule (classifier/README.md) unless named."""

    head: str | None = None  # a candidate name (classifier.heads.CANDIDATES) to force instead of the rule
    task_c: float = 1.0
    seed: int = 0


def fit_head(name: str, data: TrainSet) -> Scorer:
    """The named candidate fitted on every row (the length rule is a head too: w = 0, w_len = 1)."""
    if name == LENGTH:
        return Linear(w=np.zeros(data.vectors.shape[1]), w_len=1.0, bias=0.0)
    fitted = CANDIDATES[name].fit_with(data, {})
    if not CANDIDATES[name].servable or not callable(getattr(fitted, "one", None)):
        raise ValueError(f"{name!r} is not servable (no kNN over training rows on the request path)")
    return fitted  # type: ignore[return-value]


def fit_task_head(data: TrainSet, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression over the embedding for the task names the data has: (W (d, K), b (K,))."""
    from sklearn.linear_model import LogisticRegression

    rows = np.asarray([i for i, t in enumerate(data.tasks) if t in LEARNED_TASKS], dtype=np.int64)
    y = np.asarray([LEARNED_TASKS.index(data.tasks[i]) for i in rows])
    model = LogisticRegression(C=config.task_c, max_iter=500, random_state=config.seed)
    model.fit(data.vectors[rows].astype(np.float64), y)
    weights = np.zeros((data.vectors.shape[1], len(LEARNED_TASKS)))
    bias = np.full(len(LEARNED_TASKS), -30.0)  # a task absent from the rows stays impossible
    weights[:, model.classes_] = model.coef_.T
    bias[model.classes_] = model.intercept_
    return weights, bias

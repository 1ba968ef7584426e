"""Synthetic training sets for the heads' tests: families whose within-family order is carried by length."""

from __future__ import annotations

import numpy as np

from classifier.trainset import TrainSet
from classifier.types import Task

FAMILIES = 6
PER_FAMILY = 150


def length_families(seed: int = 0, d: int = 8, *, clustered: bool = False) -> TrainSet:
    """Inside every family the longer prompts are the ones that need the stronger model; across families
    it is the other way round (the longer families are a little easier). With `clustered` each family is
    a cluster of the embedding; otherwise the embedding is noise, so only length can order rows."""
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"f{i}" for i in range(FAMILIES)], PER_FAMILY)
    family = np.repeat(np.arange(FAMILIES), PER_FAMILY)
    within = rng.normal(size=len(groups))
    log_chars = 4.0 + 0.5 * family + 0.3 * within
    target = (rng.random(len(groups)) < np.linspace(0.6, 0.4, FAMILIES)[family]).astype(float)
    for f in range(FAMILIES):  # inside each family, the rows that need the stronger model are its longer ones
        rows = np.nonzero(family == f)[0]
        target[rows[np.argsort(within[rows])]] = np.sort(target[rows])
    if clustered:
        centres = rng.normal(size=(FAMILIES, d))
        vectors = centres[family] + 0.3 * rng.normal(size=(len(groups), d))
    else:
        vectors = rng.normal(size=(len(groups), d))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    n = len(groups)
    return TrainSet(
        vectors=vectors.astype(np.float32),
        log_chars=log_chars,
        target=target,
        weights=np.ones(n),
        groups=groups,
        tiers=target.astype(int),
        outcome=np.ones(n, dtype=bool),
        pair_target=target[:, None].copy(),
        pair_names=("p",),
        q_cheap=1 - target,
        q_strong=np.ones(n),
        tasks=tuple(Task.CHAT for _ in range(n)),
        texts=tuple("" for _ in range(n)),
    )

